/**
 * Debian's Chromium for browser tests (installed by .ci/run), launched the way this machine allows:
 * headless, no sandbox as root, and without the background services whose connections the closed
 * network refuses.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
