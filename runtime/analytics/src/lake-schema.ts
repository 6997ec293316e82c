/**
 * The lake's events table, read from `runtime/analytics/lake/events.schema.json` — the one
 * description the Parquet writer, `analytics query`, the Terraform catalogues and the tests share —
 * with the column types each engine spells differently.
 */
import schemaFile from '../lake/events.schema.json' with { type: 'json' };

/** A column's logical type; each engine maps it below. */
export type LakeType = 'string' | 'timestamp' | 'date';

/** One column of the events table. */
export interface LakeColumn {
  name: string;
  type: LakeType;
  nullable: boolean;
  description: string;
}

/** The events table: columns in file order and the Hive partition key. */
export interface LakeSchema {
  table: string;
  partitionKey: Omit<LakeColumn, 'nullable'>;
  columns: LakeColumn[];
}

/** The events table's schema. Imported, not read, so the CLI bundle carries it. */
export function lakeSchema(): LakeSchema {
  return schemaFile as LakeSchema;
}

/** Column types per engine: DuckDB (writer and query), AWS Glue / Hive, BigQuery. */
export const ENGINE_TYPES: Record<'duckdb' | 'glue' | 'bigquery', Record<LakeType, string>> = {
  duckdb: { string: 'VARCHAR', timestamp: 'TIMESTAMP', date: 'DATE' },
  glue: { string: 'string', timestamp: 'timestamp', date: 'date' },
  bigquery: { string: 'STRING', timestamp: 'TIMESTAMP', date: 'DATE' },
};
