import { describe, expect, it } from 'vitest';
import { mermaid } from '../../src/stacks/graph.ts';
import { loadFixture } from './fixture.ts';

/** Node and subgraph ids a Mermaid flowchart declares, and the ids its edges use. */
function parse(diagram: string) {
  const declared = new Set<string>();
  const used: string[] = [];
  let depth = 0;
  for (const raw of diagram.trim().split('\n').slice(1)) {
    const line = raw.trim();
    const sub = /^subgraph ([A-Za-z0-9_]+)\[/.exec(line);
    if (sub) {
      declared.add(sub[1] as string);
      depth++;
    } else if (line === 'end') depth--;
    else if (/(-->|-\.->|<-->)/.test(line)) {
      const ends = line.split(/\s+(?:-->|-\.->|<-->\|[^|]*\|)\s+/);
      used.push(...ends);
    } else {
      const node = /^([A-Za-z0-9_]+)[([{/]/.exec(line);
      expect(node, `unparsed line: ${line}`).not.toBeNull();
      declared.add((node as RegExpExecArray)[1] as string);
    }
    expect(depth).toBeGreaterThanOrEqual(0);
  }
  expect(depth).toBe(0);
  return { declared, used };
}

describe('graph', () => {
  it('declares every node an edge uses, with balanced subgraphs', () => {
    const diagram = mermaid(loadFixture());
    const { declared, used } = parse(diagram);
    expect(used.length).toBeGreaterThan(10);
    for (const id of used) expect(declared, id).toContain(id);
  });

  it('shows each region with its cluster, services and data stores, and the VPN link', () => {
    const diagram = mermaid(loadFixture(), { envs: ['prod'], clouds: ['gcp'] });
    expect(diagram).toContain('subgraph prod_gcp_us_east1["us-east1"]');
    expect(diagram).toContain('prod_gcp_us_east1_k8s_content("content")');
    expect(diagram).toContain('[("Cloud SQL PostgreSQL")]');
    expect(diagram).toContain('[["Pub/Sub"]]');
    expect(diagram).toContain('prod_gcp_us_east1_k8s_gateway --> prod_gcp_us_east1_k8s_content');
    expect(diagram).toContain('prod_gcp_europe_west1 <-->|site-to-site VPN| prod_gcp_peer');
  });
});
