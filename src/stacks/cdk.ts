/**
 * The only module that imports the CDK for Terraform core and `constructs`. Everything else in
 * platformctl goes through these re-exports, so switching to the community fork (`cdktn`) is a
 * change of the two import lines below (docs/decisions/0001-cdktf-vs-cdktn.md).
 */
export {
  App,
  AzurermBackend,
  Fn,
  GcsBackend,
  S3Backend,
  TerraformDataSource,
  TerraformOutput,
  TerraformProvider,
  TerraformResource,
  TerraformStack,
  Token,
} from 'cdktf';
export { Construct } from 'constructs';
