/**
 * The container's one SSM client, built at module scope (Lambda's init phase): the runner (Run
 * Command) and the inventory (agent PingStatus) share it, so a function composing both resolves
 * credentials and keeps connections once.
 */
import { SSMClient } from '@aws-sdk/client-ssm';

/** Shared by {@link makeRunner} and {@link makeInventory}. */
export const ssm = new SSMClient({});
