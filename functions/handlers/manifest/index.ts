/**
 * One manifest per Lambda handler, one file each in this directory: `wiring` (the ports it
 * composes and the variables it reads beyond them), `grants` (its IAM permissions by resource
 * scope) and `sizing`. The handler imports its own `wiring` only (its bundle carries nothing else)
 * and builds its deps from it (wiring/compose.ts `wire`); the construct (infra/nodemedic.ts) reads
 * this table to create each function's environment, sizing and least-privilege role.
 *
 * Adding a grant is one line in the handler's file: e.g. `anyResource: [..., 'cloudwatch:GetMetricData']`
 * or `alarms: ['cloudwatch:DescribeAlarms', 'cloudwatch:DescribeAlarmContributors']`. An action IAM
 * authorizes on `*` only needs its reason in types.ts `ANY_RESOURCE_ACTIONS` (cdk-nag's
 * acknowledgement quotes it); a port new to the vocabulary goes in `PORT_ENV` with its variables.
 */
import type { HandlerName } from '../../app/contract.js';
import { manifest as alarm } from './alarm.js';
import { manifest as analyze } from './analyze.js';
import { manifest as awaitApproval } from './await-approval.js';
import { manifest as escalate } from './escalate.js';
import { manifest as evaluate } from './evaluate.js';
import { manifest as executionEnded } from './execution-ended.js';
import { manifest as outcome } from './outcome.js';
import { manifest as poll } from './poll.js';
import { manifest as reachability } from './reachability.js';
import { manifest as send } from './send.js';
import { manifest as slack } from './slack.js';
import type { HandlerManifest } from './types.js';

/** Every handler's manifest, by handler name. */
export const MANIFESTS: Readonly<Record<HandlerName, HandlerManifest>> = {
  alarm,
  reachability,
  send,
  poll,
  analyze,
  'await-approval': awaitApproval,
  evaluate,
  outcome,
  escalate,
  'execution-ended': executionEnded,
  slack,
};
