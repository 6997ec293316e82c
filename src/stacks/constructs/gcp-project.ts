/** The `google_project` data source (for the project number in service-agent names), once per stack. */
import { type Construct, TerraformStack } from '../cdk.ts';
import { GcpProject } from '../resources/gcp.ts';

const perStack = new WeakMap<TerraformStack, InstanceType<typeof GcpProject>>();

export function gcpProject(scope: Construct): InstanceType<typeof GcpProject> {
  const stack = TerraformStack.of(scope);
  let project = perStack.get(stack);
  if (!project) {
    project = new GcpProject(stack, 'project', {});
    perStack.set(stack, project);
  }
  return project;
}
