/** hashicorp/random: generated secrets that never appear in platform.yaml or on a command line. */
import { defineResource } from '../tf.ts';

export const RandomPassword = defineResource<{
  length: number;
  special: boolean;
  override_special?: string;
}>('random_password');
