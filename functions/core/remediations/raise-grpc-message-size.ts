import { defineRemediation } from './remediation.js';

/** Raise `[grpc] max_recv/max_send_message_size` back to at least the 16 MiB default. */
export const raiseGrpcMessageSize = defineRemediation({
  id: 'raise-grpc-message-size',
  title: 'Raise gRPC message size limits',
  tier: 'disruptive',
  description:
    'Backs up the containerd config, raises max_recv/max_send_message_size under [grpc], validates the config, restarts containerd, and restores the backup on failure.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 180,
  verify: ['grpc-limits', 'config-invalid', 'containerd-down'],
  rollback: 'script',
  parameters: ['address', 'config', 'messageSize', 'mode'],
  fixes: ['grpc-limits'],
});
