/**
 * Enumerations shared by the schema and by command definitions. Kept free of zod so that `*.cmd.ts`
 * files can use them without slowing CLI start-up.
 */
export const CLOUDS = ['aws', 'azure', 'gcp'] as const;
export type Cloud = (typeof CLOUDS)[number];
export const PROVIDERS = ['local', 'kubernetes'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
