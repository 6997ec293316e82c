/**
 * Regenerates the sample media used by demos and docs, without network or ffmpeg:
 *   node runtime/content/samples/make-samples.ts
 *
 * - sample.jpg: a 480x320 poster drawn from SVG by sharp (librsvg) and encoded as JPEG.
 * - sample.png: a 160x160 badge with transparency.
 * - sample.webm: a 1.2 s, 12-frame VP8 clip of a moving square. sharp's lossy WebP encoder
 *   produces VP8 key frames (a lossy WebP is a RIFF wrapper around one VP8 frame), and a small
 *   Matroska/WebM writer below puts those frames into a playable WebM file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const OUT = import.meta.dirname;

function poster(): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="#0b3d91"/><stop offset="1" stop-color="#1fb6a6"/></linearGradient></defs>
  <rect width="480" height="320" fill="url(#g)"/>
  <circle cx="380" cy="90" r="50" fill="#ffd166" opacity="0.9"/>
  <path d="M0 260 L120 170 L210 240 L320 150 L480 260 L480 320 L0 320 Z" fill="#073b4c" opacity="0.85"/>
  <text x="24" y="56" font-family="sans-serif" font-size="30" font-weight="bold" fill="#fff">platformctl sample</text>
</svg>`);
}

function badge(): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160">
  <circle cx="80" cy="80" r="72" fill="#ef476f"/>
  <text x="80" y="96" text-anchor="middle" font-family="sans-serif" font-size="44" font-weight="bold" fill="#fff">PNG</text>
</svg>`);
}

// ---- a minimal WebM (Matroska) writer ---------------------------------------------------------

/** EBML element: id bytes, size as a minimal-length variable-size integer, payload. */
function el(id: number[], payload: Buffer): Buffer {
  let n = 1;
  while (payload.length >= 2 ** (7 * n) - 1) n++;
  const size = Buffer.alloc(n);
  let v = payload.length;
  for (let k = n - 1; k >= 0; k--) {
    size[k] = v & 0xff;
    v = Math.floor(v / 256);
  }
  size[0]! |= 0x80 >> (n - 1);
  return Buffer.concat([Buffer.from(id), size, payload]);
}
const uint = (id: number[], v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return el(id, b);
};
const str = (id: number[], v: string) => el(id, Buffer.from(v, 'ascii'));
const float = (id: number[], v: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return el(id, b);
};

/** The VP8 key frame inside a lossy WebP (chunk `VP8 `). */
function vp8FromWebp(webp: Buffer): Buffer {
  for (let off = 12; off + 8 <= webp.length; ) {
    const tag = webp.toString('ascii', off, off + 4);
    const len = webp.readUInt32LE(off + 4);
    if (tag === 'VP8 ') return webp.subarray(off + 8, off + 8 + len);
    off += 8 + len + (len % 2);
  }
  throw new Error('no VP8 chunk in WebP');
}

function webm(frames: Buffer[], width: number, height: number, frameMs: number): Buffer {
  const header = el(
    [0x1a, 0x45, 0xdf, 0xa3],
    Buffer.concat([
      uint([0x42, 0x86], 1),
      uint([0x42, 0xf7], 1),
      uint([0x42, 0xf2], 4),
      uint([0x42, 0xf3], 8),
      str([0x42, 0x82], 'webm'),
      uint([0x42, 0x87], 2),
      uint([0x42, 0x85], 2),
    ]),
  );
  const info = el(
    [0x15, 0x49, 0xa9, 0x66],
    Buffer.concat([
      uint([0x2a, 0xd7, 0xb1], 1_000_000), // timestamps in ms
      float([0x44, 0x89], frames.length * frameMs),
      str([0x4d, 0x80], 'platformctl make-samples'),
      str([0x57, 0x41], 'platformctl make-samples'),
    ]),
  );
  const tracks = el(
    [0x16, 0x54, 0xae, 0x6b],
    el(
      [0xae],
      Buffer.concat([
        uint([0xd7], 1),
        uint([0x73, 0xc5], 1),
        uint([0x83], 1), // video
        uint([0x9c], 0), // no lacing
        str([0x86], 'V_VP8'),
        el([0xe0], Buffer.concat([uint([0xb0], width), uint([0xba], height)])),
      ]),
    ),
  );
  const blocks = frames.map((f, i) => {
    const head = Buffer.alloc(4);
    head[0] = 0x81; // track 1
    head.writeInt16BE(i * frameMs, 1); // relative to the cluster timestamp
    head[3] = 0x80; // key frame
    return el([0xa3], Buffer.concat([head, f]));
  });
  const cluster = el([0x1f, 0x43, 0xb6, 0x75], Buffer.concat([uint([0xe7], 0), ...blocks]));
  return Buffer.concat([header, el([0x18, 0x53, 0x80, 0x67], Buffer.concat([info, tracks, cluster]))]);
}

async function clip(): Promise<Buffer> {
  const w = 160;
  const h = 96;
  const frames: Buffer[] = [];
  for (let i = 0; i < 12; i++) {
    const x = 8 + i * 10;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
      <rect width="${w}" height="${h}" fill="#118ab2"/><rect x="${x}" y="28" width="40" height="40" rx="6" fill="#ffd166"/></svg>`;
    const webp = await sharp(Buffer.from(svg))
      .removeAlpha()
      .webp({ quality: 70, alphaQuality: 100 })
      .toBuffer();
    frames.push(vp8FromWebp(webp));
  }
  return webm(frames, w, h, 100);
}

writeFileSync(join(OUT, 'sample.jpg'), await sharp(poster()).jpeg({ quality: 80, mozjpeg: true }).toBuffer());
writeFileSync(
  join(OUT, 'sample.png'),
  await sharp(badge()).png({ compressionLevel: 9, palette: true }).toBuffer(),
);
writeFileSync(join(OUT, 'sample.webm'), await clip());
process.stdout.write(`samples written to ${OUT}\n`);
