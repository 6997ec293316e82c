/**
 * Customer-managed encryption keys, one per stack and purpose, rotated yearly (AWS KMS, Cloud KMS).
 * Azure encrypts storage, databases and Key Vault with platform-managed keys by default, so it
 * needs none here.
 */
import type { Construct, TerraformResource } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as gcp from '../resources/gcp.ts';
import type { Site } from '../site.ts';

export interface EncryptionKey {
  /** AWS key ARN or Cloud KMS crypto key id. */
  id: string;
  /** GCP: grants a service agent the right to use the key. */
  allow(id: string, member: string): TerraformResource | undefined;
}

export function encryptionKey(scope: Construct, site: Site, purpose: string): EncryptionKey | undefined {
  if (site.cloud === 'aws') {
    const key = new aws.AwsKmsKey(scope, `${purpose}-key`, {
      description: `${site.regional} ${purpose}`,
      enable_key_rotation: true,
      deletion_window_in_days: site.isProd ? 30 : 7,
    });
    new aws.AwsKmsAlias(scope, `${purpose}-key-alias`, {
      name: `alias/${site.regional}-${purpose}`,
      target_key_id: key.attr('key_id'),
    });
    return { id: key.attr('arn'), allow: () => undefined };
  }
  if (site.cloud === 'gcp') {
    const ring = new gcp.GcpKmsKeyRing(scope, `${purpose}-keyring`, {
      name: `${site.regional}-${purpose}`,
      location: site.region,
    });
    const key = new gcp.GcpKmsCryptoKey(scope, `${purpose}-key`, {
      name: purpose,
      key_ring: ring.attr('id'),
      rotation_period: '31536000s',
    });
    return {
      id: key.attr('id'),
      allow: (id, member) =>
        new gcp.GcpKmsCryptoKeyIamMember(scope, `${purpose}-key-${id}`, {
          crypto_key_id: key.attr('id'),
          role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
          member,
        }),
    };
  }
  return undefined;
}
