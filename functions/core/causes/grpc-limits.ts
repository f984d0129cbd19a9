import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/** containerd's default for both message-size limits: 16 MiB. */
const DEFAULT_GRPC_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Below this a limit breaks routine kubelet calls, not just unusually large ones. */
const TINY_MESSAGE_SIZE = 1024 * 1024;
const SIZE_KEYS = ['max_recv_message_size', 'max_send_message_size'] as const;

/** `key = value` from a raw `[grpc]` line; TOML integers may carry `_` separators or a hex prefix. */
function parseGrpcLine(line: string): { key: string; value: string; number: number | null } | null {
  const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*(?:#.*)?$/.exec(line);
  if (!m) return null;
  const value = m[2]!;
  const digits = value.replace(/_/g, '');
  const number = /^(0x[0-9a-fA-F]+|\d+)$/.test(digits) ? Number(digits) : null;
  return { key: m[1]!, value, number };
}

/** The note every report carries when a `max_concurrent_streams` key is present. */
function maxConcurrentStreamsNote(line: string): string {
  return (
    `config key \`max_concurrent_streams\` (${line.trim()}) does not exist in containerd (1.6, 1.7 or 2.x) and does nothing: ` +
    "containerd ignores it, and grpc-go's stream limit stays unlimited. The real concurrency knobs are CRI " +
    '`max_concurrent_downloads` and kubelet `serializeImagePulls`'
  );
}

/** containerd's gRPC message-size limits are below the default, or calls hit them. */
export const grpcLimits: Cause = {
  id: 'grpc-limits',
  title: 'containerd gRPC limits',
  why: 'A `max_recv_message_size` below the 16 MiB default makes containerd reject larger CRI requests (`received message larger than max`), so kubelet calls such as ListContainers fail.',
  remediations: ['raise-grpc-message-size'],
  detect(facts) {
    const cfg = facts.config;
    const notes: string[] = [];
    const evidence: Evidence[] = [];
    let smallest = Number.POSITIVE_INFINITY;
    if (cfg.status === 'ok') {
      for (const line of cfg.grpc) {
        const parsed = parseGrpcLine(line);
        if (!parsed) continue;
        if (parsed.key === 'max_concurrent_streams') notes.push(maxConcurrentStreamsNote(line));
        if ((SIZE_KEYS as readonly string[]).includes(parsed.key)) {
          if (parsed.number === null) {
            notes.push(`could not read the number in [grpc] ${line.trim()}`);
          } else if (parsed.number < DEFAULT_GRPC_MESSAGE_SIZE) {
            smallest = Math.min(smallest, parsed.number);
            evidence.push({
              source: 'config',
              text: `[grpc] ${parsed.key} = ${parsed.number} bytes, below the default ${DEFAULT_GRPC_MESSAGE_SIZE} (16 MiB)`,
            });
          }
        }
      }
    }
    const fromConfig = evidence.length > 0;
    const logged =
      logMatch(facts.logs.containerd, 'message-too-large') ??
      logMatch(facts.logs.kubelet, 'message-too-large');
    if (logged) {
      const source = facts.logs.containerd.includes(logged) ? 'logs.containerd' : 'logs.kubelet';
      evidence.push(...logEvidence(source, logged));
    }
    if (evidence.length === 0) {
      if (cfg.status === 'unknown') return { state: 'unknown', reason: why(cfg), notes };
      return { state: 'not-matched', notes };
    }
    return {
      state: 'matched',
      finding: {
        cause: 'grpc-limits',
        // Under 1 MiB, ordinary CRI traffic (pod lists, image pulls with auth) no longer fits.
        severity: logged || smallest < TINY_MESSAGE_SIZE ? 'critical' : 'warning',
        confidence: fromConfig ? 'high' : 'medium',
        summary: logged
          ? 'gRPC calls to containerd are rejected: message larger than the configured max'
          : 'containerd gRPC message-size limit is set below the 16 MiB default',
        evidence,
        remediations: grpcLimits.remediations,
      },
      notes,
    };
  },
};
