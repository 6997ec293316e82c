/**
 * The catalogue of the CLI's error codes: every code a `PlatformError` may carry, declared once
 * with the exit code it ends the process with and what it means. The type checker refuses a code
 * that is not declared here; test/docs/error-codes.test.ts refuses one declared but never thrown,
 * and keeps docs/errors.md in step.
 *
 * To add a code: add a line `NEW_CODE: { exit: ExitCode.<name>, meaning: '<one line>' }` below
 * (alphabetical), throw it, then regenerate the docs:
 * `npm run build && node bin/platformctl docs generate --only errors`.
 * A user's mistake (bad input, missing setting) exits 2 (`usage`), never 1 with "a bug in platformctl".
 */
import { ExitCode } from './exit-codes.ts';

/** What the catalogue says about one code. */
export interface ErrorCodeSpec {
  exit: ExitCode;
  /** One line: what went wrong, independent of the occurrence. */
  meaning: string;
}

export const ERROR_CODES = {
  ALREADY_RUNNING: { exit: ExitCode.usage, meaning: 'the service already runs that release' },
  AUDIT_TAMPERED: {
    exit: ExitCode.policyViolation,
    meaning: 'the audit log was edited, truncated or reordered',
  },
  BACKEND_URL_MISSING: {
    exit: ExitCode.usage,
    meaning: 'a backend of platform.yaml (rabbitmq, postgres) needs a URL that is not set',
  },
  BAD_REQUEST: { exit: ExitCode.usage, meaning: 'the supervisor control API refused a malformed request' },
  CHAOS_BLAST_RADIUS: {
    exit: ExitCode.failure,
    meaning: 'a fault would hit more instances than the experiment allows',
  },
  CHAOS_NO_TARGET: { exit: ExitCode.failure, meaning: 'no running instance of … to hit' },
  CHAOS_LEFTOVERS: {
    exit: ExitCode.failure,
    meaning: 'an experiment is running, or a dead one left faults that do not lapse by themselves',
  },
  CHAOS_PROBE_AUTH: {
    exit: ExitCode.failure,
    meaning: 'a steady-state probe cannot sign in through the gateway',
  },
  COMMAND_NOT_TAKEN: {
    exit: ExitCode.failure,
    meaning: 'the rollout runner (pid …) did not take the … command within 10s',
  },
  CONDITION_INVALID: { exit: ExitCode.usage, meaning: 'a delivery condition does not parse' },
  CONFIG_EXISTS: { exit: ExitCode.usage, meaning: 'platform.yaml already exists (init)' },
  CONFIG_INVALID: {
    exit: ExitCode.usage,
    meaning: 'platform.yaml (or a scenario, experiment file) is malformed',
  },
  CONFIG_NOT_FOUND: { exit: ExitCode.usage, meaning: 'config file not found: …' },
  CONFIRMATION_REQUIRED: {
    exit: ExitCode.usage,
    meaning: 'a confirmation is needed and there is no terminal: pass --yes',
  },
  CRASH_LOOP: { exit: ExitCode.failure, meaning: 'an instance keeps crashing and is no longer restarted' },
  DATABASE_MISSING: {
    exit: ExitCode.failure,
    meaning: 'a service database does not exist and the role may not create it (the hint has the SQL)',
  },
  DATABASE_UNREACHABLE: {
    exit: ExitCode.failure,
    meaning: 'the PostgreSQL server does not answer, or ended the session while the command ran',
  },
  DB_URL_INVALID: { exit: ExitCode.usage, meaning: 'a database URL flag of `db copy` has the wrong scheme' },
  DEMO_FAILED: { exit: ExitCode.failure, meaning: 'cannot reach …: …' },
  DEPENDENCY_CYCLE: { exit: ExitCode.failure, meaning: 'services depend on each other in a cycle: …' },
  DRILL_FAULT: { exit: ExitCode.failure, meaning: 'a drill fault cannot be applied or undone' },
  DRILL_RUNNING: { exit: ExitCode.failure, meaning: 'drill … (…) is already running' },
  ENV_INVALID: {
    exit: ExitCode.usage,
    meaning: 'an environment variable platformctl reads has a value it does not accept',
  },
  GATEWAY_ADMIN_FAILED: { exit: ExitCode.failure, meaning: 'gateway admin … … answered … …: …' },
  GATEWAY_UNREACHABLE: { exit: ExitCode.failure, meaning: 'the gateway at … does not answer' },
  GITHUB_AUTH: { exit: ExitCode.usage, meaning: 'GitHub rejected the token while … (401 …)' },
  GITHUB_FAILED: { exit: ExitCode.failure, meaning: 'GitHub answered … while …: …' },
  GITHUB_FORBIDDEN: { exit: ExitCode.usage, meaning: 'GitHub answered … while …: …' },
  GITHUB_INVALID: { exit: ExitCode.failure, meaning: 'GitHub refused the request while …: …' },
  GITHUB_JOB_NOT_FOUND: { exit: ExitCode.failure, meaning: 'run … has no job named "…"' },
  GITHUB_REPO_UNKNOWN: { exit: ExitCode.usage, meaning: '--repo "…" is not owner/name' },
  GITHUB_RUN_AMBIGUOUS: {
    exit: ExitCode.failure,
    meaning: 'several workflow runs started at once; cannot tell which is ours',
  },
  GITHUB_RUN_NOT_FOUND: { exit: ExitCode.failure, meaning: 'dispatched … on …, but no run appeared' },
  GITHUB_RUN_TIMEOUT: { exit: ExitCode.failure, meaning: 'run … did not complete in time (status: …)' },
  GITHUB_TOKEN_MISSING: {
    exit: ExitCode.usage,
    meaning: 'no GitHub token: GITHUB_TOKEN and GH_TOKEN are both unset',
  },
  GITHUB_UNREACHABLE: { exit: ExitCode.failure, meaning: 'cannot reach GitHub at … while … (…)' },
  GITOPS_BRANCH_EXISTS: { exit: ExitCode.failure, meaning: 'branch … already exists in …/…' },
  GITOPS_DRIFT: {
    exit: ExitCode.policyViolation,
    meaning: 'rendered GitOps files differ from platform.yaml',
  },
  GITOPS_FILE_MISSING: { exit: ExitCode.usage, meaning: 'a file to promote does not exist on the branch' },
  GITOPS_NOT_A_FILE: { exit: ExitCode.failure, meaning: 'a path to promote is not a file' },
  GITOPS_NO_IMAGE: { exit: ExitCode.failure, meaning: 'the overlay has no images[].newTag to bump' },
  GITOPS_NO_TAG: { exit: ExitCode.usage, meaning: 'the … overlay of … pins no image tag' },
  INSTALL_BROKEN: { exit: ExitCode.failure, meaning: 'cannot find the platformctl installation directory' },
  INTERNAL: { exit: ExitCode.failure, meaning: 'an unexpected error: a bug in platformctl' },
  INTERRUPTED: { exit: ExitCode.interrupted, meaning: 'interrupted (Ctrl-C) after cleaning up' },
  JIRA_AUTH: { exit: ExitCode.usage, meaning: 'Jira refused the credentials (HTTP …)' },
  JIRA_REQUEST: { exit: ExitCode.failure, meaning: 'Jira answered HTTP … to … …: …' },
  JIRA_TOKEN_MISSING: {
    exit: ExitCode.usage,
    meaning: 'no Jira credentials: JIRA_EMAIL and JIRA_API_TOKEN must both be set',
  },
  JIRA_UNREACHABLE: { exit: ExitCode.failure, meaning: 'cannot reach Jira at …' },
  KUBE_API_ERROR: { exit: ExitCode.failure, meaning: 'the Kubernetes API refused a request' },
  KUBE_CONTEXT_UNKNOWN: { exit: ExitCode.usage, meaning: 'no kube context "…" in the kubeconfig' },
  KUBE_CRD_MISSING: {
    exit: ExitCode.failure,
    meaning: 'the cluster does not serve a kind platformctl applies: its CRD is not installed',
  },
  KUBE_CREDENTIALS_EXPIRED: {
    exit: ExitCode.usage,
    meaning: 'the token or client certificate of the kubeconfig expired',
  },
  KUBE_FORBIDDEN: { exit: ExitCode.failure, meaning: 'RBAC forbids the credentials a verb on a resource' },
  KUBE_NAMESPACE_MISSING: {
    exit: ExitCode.failure,
    meaning: 'the namespace does not exist and the credentials may not create it',
  },
  KUBE_SCHEMA_MISMATCH: {
    exit: ExitCode.failure,
    meaning: "the cluster's schema lacks a field platformctl sets (strict field validation)",
  },
  KUBE_TLS: {
    exit: ExitCode.usage,
    meaning: "the API server's certificate is not signed by the kubeconfig's CA",
  },
  KUBE_UNAUTHORIZED: {
    exit: ExitCode.usage,
    meaning: 'the API server did not accept the credentials of the kubeconfig',
  },
  KUBE_UNREACHABLE: { exit: ExitCode.failure, meaning: 'cannot reach the Kubernetes API to …: …' },
  LAKE_EMPTY: { exit: ExitCode.failure, meaning: 'the lake at … has no … partitions' },
  LAKE_QUERY_INVALID: { exit: ExitCode.usage, meaning: 'a lake query failed' },
  LAKE_QUERY_UNKNOWN: { exit: ExitCode.usage, meaning: 'no saved query "…"' },
  LOAD_AUTH_FAILED: { exit: ExitCode.failure, meaning: 'signup failed with HTTP …: …' },
  LOAD_AUTH_UNREACHABLE: { exit: ExitCode.failure, meaning: 'cannot reach the auth service at …: …' },
  LOAD_SETUP_FAILED: { exit: ExitCode.failure, meaning: 'setup request "…" failed: …' },
  LOAD_SUMMARY_INVALID: { exit: ExitCode.usage, meaning: 'a file is not a load summary' },
  MANIFEST_INVALID: { exit: ExitCode.usage, meaning: 'a directory is not the output of platformctl synth' },
  METRICS_UNAVAILABLE: { exit: ExitCode.failure, meaning: 'Prometheus at … does not answer' },
  MISSING_FLAG: { exit: ExitCode.usage, meaning: 'a required value is missing and prompts are not possible' },
  NOT_RUNNING: { exit: ExitCode.failure, meaning: 'the platform, service or version is not running' },
  NOT_STEADY: { exit: ExitCode.failure, meaning: 'the platform is not healthy before a drill' },
  NOT_SUPPORTED: {
    exit: ExitCode.failure,
    meaning: 'a capability (fault, metric source) this provider does not have',
  },
  NOT_SYNTHESIZED: { exit: ExitCode.usage, meaning: 'no synthesized stacks in …' },
  NO_ACTIVE_DRILL: { exit: ExitCode.failure, meaning: 'no drill is running' },
  NO_FREE_PORT: { exit: ExitCode.failure, meaning: 'no free port in the range' },
  NO_GATEWAY: { exit: ExitCode.failure, meaning: 'no gateway is running' },
  NO_GATEWAY_URL: {
    exit: ExitCode.usage,
    meaning: "a chaos run on a cluster needs the gateway's URL (PLATFORMCTL_GATEWAY_URL)",
  },
  NO_ROLLOUT: { exit: ExitCode.usage, meaning: 'no rollout of … has been started here' },
  NO_SCENARIOS: { exit: ExitCode.usage, meaning: 'the project has no drill scenarios' },
  OBSERVABILITY_DRIFT: {
    exit: ExitCode.policyViolation,
    meaning: 'rendered observability files are out of date',
  },
  ONPREM_NO_GATEWAY: {
    exit: ExitCode.failure,
    meaning: 'platform.yaml has no service of kind "gateway" for nginx to proxy to',
  },
  PORT_IN_USE: { exit: ExitCode.failure, meaning: 'port … for … is already in use by …' },
  PORT_TAKEN: { exit: ExitCode.usage, meaning: 'port … is used by service "…"' },
  POSTMORTEM_NOT_FOUND: { exit: ExitCode.usage, meaning: 'no postmortem under …' },
  POSTMORTEM_UNREADABLE: { exit: ExitCode.usage, meaning: 'cannot read the postmortem …: …' },
  PROMETHEUS_MISSING: { exit: ExitCode.failure, meaning: 'prometheus is not installed' },
  PROTECTED_ENVIRONMENT: { exit: ExitCode.usage, meaning: 'a protected environment without --allow-prod' },
  PROVIDER_UNSUPPORTED: {
    exit: ExitCode.usage,
    meaning: "the --env environment's provider does not offer this command or flag",
  },
  RELEASE_BUILD_FAILED: { exit: ExitCode.failure, meaning: 'a service could not be bundled into a release' },
  RELEASE_EXISTS: { exit: ExitCode.usage, meaning: 'release …@… already exists; releases are immutable' },
  RELEASE_NOT_FOUND: { exit: ExitCode.usage, meaning: 'no release of that service and version' },
  REPORTED: {
    exit: ExitCode.failure,
    meaning: 'already reported above; the exit code is the one that report gives',
  },
  REVERT_FAILED: { exit: ExitCode.failure, meaning: 'could not revert: …' },
  ROLLOUT_BLOCKED: { exit: ExitCode.failure, meaning: 'a pre-rollout gate refused the release' },
  ROLLOUT_CRASH_LOOP: { exit: ExitCode.failure, meaning: 'a pod of the new version is in CrashLoopBackOff' },
  ROLLOUT_ENDED: { exit: ExitCode.usage, meaning: 'the rollout of … … has already ended: …' },
  ROLLOUT_IMAGE_PULL: {
    exit: ExitCode.failure,
    meaning: 'a pod of the new version cannot pull or use its image',
  },
  ROLLOUT_STALLED: { exit: ExitCode.failure, meaning: 'a Deployment exceeded its progress deadline' },
  ROLLOUT_START_FAILED: { exit: ExitCode.failure, meaning: 'the rollout of … stopped at once (exit …)' },
  ROLLOUT_TIMEOUT: { exit: ExitCode.failure, meaning: 'a version was not ready in time' },
  RUNNER_GONE: { exit: ExitCode.failure, meaning: 'the process running the rollout of … (pid …) is gone' },
  SECRETS_BAD_KEY: { exit: ExitCode.usage, meaning: 'a master key is not 32 bytes' },
  SECRETS_BAD_NAME: { exit: ExitCode.usage, meaning: 'invalid secret name "…"' },
  SECRETS_EMPTY_VALUE: { exit: ExitCode.usage, meaning: 'the value is empty' },
  SECRETS_KEY_PERMISSIONS: { exit: ExitCode.usage, meaning: 'the master key file may be read by others' },
  SECRETS_NAME_COLLISION: { exit: ExitCode.usage, meaning: 'secrets "…" and "…" map to the same … name "…"' },
  SECRETS_NEW_KEY_MISSING: {
    exit: ExitCode.usage,
    meaning: 'the master key comes from the environment, so the new one must too',
  },
  SECRETS_NOT_FOUND: { exit: ExitCode.failure, meaning: 'no secret "…" in … (…)' },
  SECRETS_NOT_GENERATED: {
    exit: ExitCode.usage,
    meaning: '"…" was set by hand, so platformctl cannot make a new value',
  },
  SECRETS_NO_KEY: {
    exit: ExitCode.failure,
    meaning: 'no master key: … is unset and …/master.key does not exist',
  },
  SECRETS_SAME_KEY: { exit: ExitCode.usage, meaning: 'the new master key is the same as the current one' },
  SECRETS_STORE_CORRUPT: {
    exit: ExitCode.failure,
    meaning: 'the secret store … is not a valid platformctl store',
  },
  SECRETS_UNKNOWN_ENV: { exit: ExitCode.usage, meaning: 'unknown environment "…"' },
  SECRETS_WRONG_KEY: { exit: ExitCode.failure, meaning: 'the master key does not decrypt the secret store' },
  SERVICE_EXISTS: { exit: ExitCode.usage, meaning: 'service "…" is already in platform.yaml' },
  SERVICE_NOT_SCAFFOLDED: {
    exit: ExitCode.usage,
    meaning: 'a service directory was not generated by platformctl',
  },
  SERVICE_UNRESOLVED_CONFLICTS: {
    exit: ExitCode.failure,
    meaning: 'files still have conflict markers after a template upgrade',
  },
  SOURCE_NOT_FOUND: { exit: ExitCode.failure, meaning: 'service "…" has no entry point at …' },
  STACK_CYCLE: {
    exit: ExitCode.failure,
    meaning: "synthesized stacks read each other's state in a cycle (a bug)",
  },
  STOPPED: { exit: ExitCode.failure, meaning: 'an instance was stopped before it became ready' },
  SUPERVISOR_DIED: {
    exit: ExitCode.failure,
    meaning: 'the local supervisor exited while starting the platform',
  },
  SUPERVISOR_FAILED: { exit: ExitCode.failure, meaning: 'the local supervisor refused a request' },
  SUPERVISOR_START_FAILED: { exit: ExitCode.failure, meaning: 'the local supervisor did not start' },
  SUPERVISOR_UNREACHABLE: { exit: ExitCode.failure, meaning: 'the local supervisor at … does not answer' },
  TEMPLATES_MISSING: {
    exit: ExitCode.failure,
    meaning: 'cannot find templates/… in this platformctl install',
  },
  TEMPLATE_BROKEN: { exit: ExitCode.failure, meaning: 'template …: … uses unknown placeholder {{…}}' },
  TEMPLATE_UNKNOWN: { exit: ExitCode.usage, meaning: 'no template named "…"' },
  TERRAFORM_FAILED: { exit: ExitCode.failure, meaning: 'terraform … failed in … (exit …)' },
  TERRAFORM_OUTPUTS_INVALID: {
    exit: ExitCode.usage,
    meaning: '… is not a `terraform output -json` document',
  },
  TERRAFORM_NOT_FOUND: {
    exit: ExitCode.failure,
    meaning: 'terraform was not found (looked for "…" on PATH)',
  },
  TRACKER_UNKNOWN: { exit: ExitCode.usage, meaning: '--tracker must be github or jira (got "…")' },
  UNKNOWN_ENVIRONMENT: { exit: ExitCode.usage, meaning: 'no environment "…" in platform.yaml' },
  UNKNOWN_INSTANCE: { exit: ExitCode.usage, meaning: 'no instance (or pod) of that name' },
  UNKNOWN_SCENARIO: { exit: ExitCode.usage, meaning: 'no drill scenario of that name' },
  UNKNOWN_SERVICE: { exit: ExitCode.usage, meaning: 'no service "…" in platform.yaml' },
  UNKNOWN_STACK: { exit: ExitCode.usage, meaning: 'no stack of that name' },
  UNKNOWN_VERSION: { exit: ExitCode.usage, meaning: 'the service runs no version of that name' },
  UP_FAILED: { exit: ExitCode.failure, meaning: 'the platform did not come up' },
  UP_TIMEOUT: { exit: ExitCode.failure, meaning: 'the platform was not ready within …s' },
  USAGE: { exit: ExitCode.usage, meaning: 'a flag, argument or value is wrong' },
  VAULT_ADDR_MISSING: { exit: ExitCode.usage, meaning: 'the vault backend needs an address' },
  VAULT_AUTH_FAILED: { exit: ExitCode.failure, meaning: 'Vault AppRole login returned no token' },
  VAULT_AUTH_MISSING: { exit: ExitCode.usage, meaning: 'no Vault credentials in the environment' },
  VAULT_BAD_ENTRY: { exit: ExitCode.failure, meaning: 'the Vault entry for "…" has no string "value" field' },
  VAULT_ERROR: { exit: ExitCode.failure, meaning: 'Vault answered an error' },
  VAULT_FORBIDDEN: { exit: ExitCode.failure, meaning: 'Vault denied a request' },
  VAULT_NO_MOUNT: { exit: ExitCode.failure, meaning: 'no KV v2 engine at …/' },
  VAULT_UNREACHABLE: { exit: ExitCode.failure, meaning: 'cannot reach Vault at …: …' },
} as const satisfies Record<string, ErrorCodeSpec>;

/**
 * A code declared in ERROR_CODES (src/core/error-codes.ts); a new code is added there first.
 * (`Extract` keeps this name in the type checker's messages instead of a list of 130 codes.)
 */
export type CatalogueCode = Extract<keyof typeof ERROR_CODES, string>;

/** Whether `code` (e.g. one read back from the supervisor's control API) is in the catalogue. */
export function isCatalogueCode(code: unknown): code is CatalogueCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
