/**
 * Thin typed resource classes on top of the CDKTF core. The prebuilt provider bindings weigh
 * 270–390 MB each (decision 0001), so each resource the constructs use is declared here in one
 * line with a config interface that uses Terraform's own argument names: the synthesized JSON is
 * exactly what the provider documentation shows.
 *
 * Tags/labels: a resource declared with `tags` gets the stack's required tags merged in when it is
 * created, so no construct can forget them (the `required-tags` policy checks the result).
 */
import {
  type Construct,
  TerraformDataSource,
  TerraformProvider,
  TerraformResource,
  TerraformStack,
} from './cdk.ts';

/** Options every resource accepts besides its arguments. */
export interface ResourceOptions {
  dependsOn?: TerraformResource[];
}

/** Where the required tags go on a resource: the argument path, and whether they are GCP labels. */
export interface TagPlacement {
  path: string;
  labels: boolean;
}

/** A stack that knows its required tags (set by `PlatformStack`). */
export interface TaggedStack {
  requiredTags: Record<string, string>;
}

function hasRequiredTags(stack: unknown): stack is TaggedStack {
  return typeof stack === 'object' && stack !== null && 'requiredTags' in stack;
}

/** GCP label values: lowercase letters, digits, `_` and `-`, at most 63 characters. */
export function toLabelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, 63);
}

function setPath(target: Record<string, unknown>, path: string, value: Record<string, string>): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1) as string;
  const existing = (node[last] ?? {}) as Record<string, string>;
  node[last] = { ...value, ...existing };
}

/** A Terraform resource whose arguments are given verbatim (snake_case). */
export class Resource<C extends object> extends TerraformResource {
  readonly config: C;

  constructor(
    scope: Construct,
    id: string,
    type: string,
    config: C,
    tags: TagPlacement | undefined,
    options: ResourceOptions = {},
  ) {
    super(scope, id, {
      terraformResourceType: type,
      terraformGeneratorMetadata: { providerName: type.slice(0, type.indexOf('_')) },
      dependsOn: options.dependsOn?.length ? options.dependsOn : undefined,
    });
    const copy = { ...config } as Record<string, unknown>;
    const stack = TerraformStack.of(scope);
    if (tags && hasRequiredTags(stack)) {
      const required = tags.labels
        ? Object.fromEntries(
            Object.entries(stack.requiredTags).map(([k, v]) => [toLabelValue(k), toLabelValue(v)]),
          )
        : stack.requiredTags;
      setPath(copy, tags.path, required);
    }
    this.config = copy as C;
  }

  /** A reference to an attribute, e.g. `attr('id')` → `${aws_vpc.main.id}`. */
  attr(name: string): string {
    return this.getStringAttribute(name);
  }

  /** A list attribute reference, e.g. `listAttr('name_servers')`. */
  listAttr(name: string): string[] {
    return this.getListAttribute(name);
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return this.config as Record<string, unknown>;
  }
}

/** A Terraform data source with verbatim arguments. */
export class DataSource<C extends object> extends TerraformDataSource {
  readonly config: C;

  constructor(scope: Construct, id: string, type: string, config: C) {
    super(scope, id, {
      terraformResourceType: type,
      terraformGeneratorMetadata: { providerName: type.slice(0, type.indexOf('_')) },
    });
    this.config = config;
  }

  attr(name: string): string {
    return this.getStringAttribute(name);
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return this.config as Record<string, unknown>;
  }
}

/** The class a `defineResource` call returns. */
export type ResourceClass<C extends object> = new (
  scope: Construct,
  id: string,
  config: C,
  options?: ResourceOptions,
) => Resource<C>;

/**
 * Declares a resource type. `tags` names where required tags go (`'tags'`, `'labels'`,
 * `'settings.user_labels'`…); GCP types get sanitized label values.
 */
export function defineResource<C extends object>(type: string, tags?: string): ResourceClass<C> {
  const placement = tags ? { path: tags, labels: type.startsWith('google_') } : undefined;
  return class extends Resource<C> {
    constructor(scope: Construct, id: string, config: C, options?: ResourceOptions) {
      super(scope, id, type, config, placement, options);
    }
  };
}

/** Declares a data source type. */
export function defineData<C extends object>(type: string) {
  return class extends DataSource<C> {
    constructor(scope: Construct, id: string, config: C) {
      super(scope, id, type, config);
    }
  };
}

/** A provider block with verbatim arguments and its `required_providers` entry. */
export class Provider extends TerraformProvider {
  private readonly args: Record<string, unknown>;

  constructor(
    scope: Construct,
    name: string,
    source: string,
    version: string,
    args: Record<string, unknown>,
  ) {
    super(scope, name, {
      terraformResourceType: name,
      terraformProviderSource: source,
      terraformGeneratorMetadata: { providerName: name, providerVersionConstraint: version },
    });
    this.args = args;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return this.args;
  }
}

/** The argument type of a declared resource class. */
// biome-ignore lint/suspicious/noExplicitAny: matches any declared resource class
export type ConfigOf<T extends ResourceClass<any>> = ConstructorParameters<T>[2];
