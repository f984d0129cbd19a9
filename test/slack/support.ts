/**
 * Shared builders for the Slack tests: an incident in any phase, findings, a recording Workflow
 * (a port double: Step Functions does not run here), a recording logger, and the Function URL
 * event Slack's request becomes in Lambda.
 */
import type { AppLogger } from '../../functions/app/deps.js';
import type { Incident, IncidentPhase, Workflow } from '../../functions/core/incident.js';
import type { Finding, RemediationId } from '../../functions/core/model.js';
import { signSlackRequest } from '../../functions/local/slack-standin/server.js';

/**
 * A port the Slack app under test must never reach (the command runner, the inventory: only the
 * diagnosis use case reads them, and these tests record its requests instead): any call throws.
 */
export function notWired<T extends object>(port: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === 'then') return undefined; // not a thenable
      return () => {
        throw new Error(`${port}.${String(property)} is not wired into the Slack app under test`);
      };
    },
  });
}

/** A finding with quoted evidence, non-ASCII included (as real log lines are). */
export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    cause: 'fd-exhaustion',
    severity: 'critical',
    confidence: 'high',
    summary: 'containerd is out of file descriptors — 1021 of 1024 open',
    evidence: [
      { source: 'fds', text: '1021 of 1024 open files (99.7%)' },
      { source: 'logs.containerd', text: 'level=error msg="accept failed" error="too many open files"' },
    ],
    remediations: ['raise-nofile', 'restart-containerd'],
    ...overrides,
  };
}

/** An incident as the workflow leaves it, in the given phase. */
export function incident(overrides: Partial<Incident> & { phase?: IncidentPhase } = {}): Incident {
  return {
    id: 'prod#i-0abc12345678def01#2026-11-27T10:00:00.000Z',
    nodeKey: 'prod#i-0abc12345678def01',
    node: {
      instanceId: 'i-0abc12345678def01',
      nodeName: 'ip-10-0-1-23.ec2.internal',
      cluster: 'prod',
      autoScalingGroup: 'prod-nodes',
    },
    alarmName: 'prod-node-not-ready',
    openedAt: '2026-11-27T10:00:00.000Z',
    phase: 'awaiting-approval',
    card: null,
    thread: null,
    findingsMessage: null,
    commands: [],
    findings: [finding()],
    offered: ['raise-nofile', 'restart-containerd'],
    requested: null,
    approvals: [],
    taskToken: null,
    attempts: 0,
    audit: [
      {
        at: '2026-11-27T10:00:00.000Z',
        action: 'opened',
        actor: 'alarm',
        detail: 'alarm prod-node-not-ready',
      },
    ],
    version: 1,
    ...overrides,
  };
}

/** Workflow double that records what the listeners asked of Step Functions. */
export class RecordingWorkflow implements Workflow {
  readonly started: { incidentId: string; input: Record<string, unknown> }[] = [];
  readonly resumed: { taskToken: string; output: Record<string, unknown> }[] = [];
  readonly failed: { taskToken: string; error: string; cause: string }[] = [];
  /** Make the next resume throw this error (an expired task token, say). */
  failNextResume: Error | null = null;

  async start(incidentId: string, input: Record<string, unknown>) {
    this.started.push({ incidentId, input });
    return { executionId: `exec-${this.started.length}` };
  }
  async resume(taskToken: string, output: Record<string, unknown>) {
    if (this.failNextResume) {
      const error = this.failNextResume;
      this.failNextResume = null;
      throw error;
    }
    this.resumed.push({ taskToken, output });
  }
  async fail(taskToken: string, error: string, cause: string) {
    this.failed.push({ taskToken, error, cause });
  }
}

/** Logger that keeps every line, so tests can assert that a refusal was logged. */
export class RecordingLogger implements AppLogger {
  readonly lines: { level: 'info' | 'warn' | 'error'; message: string; extra?: Record<string, unknown> }[] =
    [];
  info(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'info', message, ...(extra ? { extra } : {}) });
  }
  warn(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'warn', message, ...(extra ? { extra } : {}) });
  }
  error(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'error', message, ...(extra ? { extra } : {}) });
  }
}

/**
 * The Lambda Function URL event (payload format 2.0) for a Slack request, optionally with the
 * body base64-encoded (as Lambda does for some content types) and extra headers.
 */
export function functionUrlEvent(
  request: { headers: Record<string, string>; body: string },
  options: { base64?: boolean; headers?: Record<string, string> } = {},
) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { host: 'abc.lambda-url.eu-west-1.on.aws', ...request.headers, ...options.headers },
    requestContext: { http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' } },
    body: options.base64 ? Buffer.from(request.body, 'utf8').toString('base64') : request.body,
    isBase64Encoded: options.base64 === true,
  };
}

/** The remediation a fix button names. */
export function fixAction(remediation: RemediationId): string {
  return `nm_fix:${remediation}`;
}

/** The parts of a block_actions payload a test may move elsewhere. */
export interface ClickPayload {
  team: { id: string; domain: string };
  user: { id: string; team_id: string };
  channel: { id: string; name: string };
  container: { channel_id: string };
}

/**
 * A click request as the stand-in built it, with its payload changed by `change` and signed
 * again with `signingSecret`: what Slack would send for the same button pressed from another
 * workspace or channel (a shared channel, a copied message). The signature is valid, so only
 * nodemedic's own checks stand between it and the workflow.
 */
export function resignedClick(
  request: { headers: Record<string, string>; body: string },
  signingSecret: string,
  change: (payload: ClickPayload) => void,
): { headers: Record<string, string>; body: string } {
  const payload = JSON.parse(decodeURIComponent(request.body.replace(/^payload=/, ''))) as ClickPayload;
  change(payload);
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = Number(request.headers['x-slack-request-timestamp']);
  return {
    headers: { ...request.headers, 'x-slack-signature': signSlackRequest(signingSecret, ts, body) },
    body,
  };
}
