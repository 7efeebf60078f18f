// What an Omaha app status other than "ok" means, as Nebraska sends them (backend/pkg/omaha/omaha.go
// getStatusMessageStr): a rollout-policy refusal ("no update now"), an update the server believes in
// progress, or a configuration / server error with the setting to look at. Pure.

/** policy: the group's rollout policy holds this machine back; in-progress: the server counts an update as running. */
export type RolloutAnswerKind = 'policy' | 'in-progress' | 'config' | 'server';

export interface RolloutAnswer {
  kind: RolloutAnswerKind;
  /** The app status as the server sent it, e.g. "error-maxConcurrentUpdatesLimitReached". */
  reason: string;
  /** One line for operators: what it means and what to fix. */
  explanation: string;
}

/** Nebraska's rollout-policy refusals (enforceRolloutPolicy in backend/pkg/api/updates.go). */
export const POLICY_REFUSALS: Readonly<Record<string, string>> = {
  'error-maxConcurrentUpdatesLimitReached': "the group's limit of concurrent updates is reached",
  'error-maxUpdatesPerPeriodLimitReached': "the group's limit of updates per period is reached",
  'error-maxTimedOutUpdatesLimitReached': 'too many updates in the group timed out (safe mode stopped the rollout)',
  'error-updatesDisabled': 'updates are disabled for the group (or outside its office hours)',
};

const CONFIG_ERRORS: Readonly<Record<string, string>> = {
  'error-unknownApplicationOrGroup': 'the server knows no such application or group: check APP_ID and GROUP',
  'error-noPackageFound': "the server's group has no channel or no package: assign one on the server, or check GROUP",
  'error-instanceRegistrationFailed': 'the server could not register this machine: check that VERSION is semver-like and APP_ID/GROUP exist',
  // Nebraska sends this for an app id or a track it does not know, as well as for internal failures.
  'error-failedToRetrieveUpdatePackageInfo':
    'the server found no update information: check APP_ID and GROUP (Nebraska answers this for an unknown app id or track), else see its log',
};

const SERVER_ERRORS: Readonly<Record<string, string>> = {
  'error-couldNotCheckUpdatesStats': 'the server could not read its update statistics (its database); see its log',
};

/** Classifies a non-"ok" app or updatecheck status. Unknown error-* statuses count as server errors. */
export function classifyAppStatus(reason: string): RolloutAnswer {
  const policy = POLICY_REFUSALS[reason];
  if (policy !== undefined) return { kind: 'policy', reason, explanation: policy };
  if (reason === 'error-updateInProgressOnInstance') {
    return { kind: 'in-progress', reason, explanation: 'the server counts an update as in progress on this machine' };
  }
  const config = CONFIG_ERRORS[reason];
  if (config !== undefined) return { kind: 'config', reason, explanation: config };
  return { kind: 'server', reason, explanation: SERVER_ERRORS[reason] ?? 'the server reported an internal error; see its log' };
}
