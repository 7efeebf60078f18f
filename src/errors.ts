// The error model: one error class with permanent string codes, and ONE TABLE (ERRORS) saying for
// each code how the attempter treats it (retry class), its Omaha error code (update_engine numbering),
// the CLI exit code and what it means. Only the attempter and the CLI entry points catch.
//
// To add a code: add one line to ERRORS (the compiler rejects a row with a missing column, and every
// use of ErrorCode follows from the table). Codes are permanent: scripts and logs depend on them.

/** What to do with a failure: try again soon, try again after a backoff, or give up. */
export type ErrorClass = 'retry' | 'backoff' | 'fail';

/** Omaha error codes (update_engine numbering, REFERENCE §1). */
export const OMAHA_ERROR = {
  success: 0,
  error: 1,
  omahaRequestError: 2,
  omahaResponseHandlerError: 3,
  postinstallRunnerError: 5,
  installDeviceOpenError: 7,
  downloadTransferError: 9,
  payloadHashMismatchError: 10,
  payloadSizeMismatchError: 11,
  downloadPayloadVerificationError: 12,
  downloadWriteError: 14,
  newRootfsVerificationError: 15,
  downloadPayloadPubKeyVerificationError: 18,
  downloadStateInitializationError: 20,
  omahaRequestEmptyResponseError: 30,
  omahaRequestXMLParseError: 31,
  omahaResponseInvalid: 34,
  omahaUpdateDeferredPerPolicy: 36,
  omahaErrorInHTTPResponse: 37,
  omahaUpdateDeferredForBackoff: 40,
  rollback: 44,
  omahaRequestHTTPResponseBase: 2000,
} as const;

/** Flag bits OR'ed into a reported Omaha error code. */
export const OMAHA_ERROR_FLAG = {
  resumedDownload: 1 << 30,
  nonDefaultServer: 1 << 28,
} as const;

/** CLI exit codes: 0 success, 1 generic failure, then one per area. Documented in the README. */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  payload: 4,
  slots: 5,
  network: 6,
  lock: 7,
  io: 8,
  internal: 70,
} as const;

/** One row of ERRORS. */
export interface ErrorSpec {
  /** How the attempter treats the failure. */
  readonly retry: ErrorClass;
  /** The Omaha error code of the 3/0 event (ERR_OMAHA_HTTP with a status reports 2000 + status). */
  readonly omaha: keyof typeof OMAHA_ERROR;
  /** The CLI exit code. */
  readonly exit: keyof typeof EXIT_CODES;
  /** What the code means (docs, logs). */
  readonly means: string;
}

/** Every code the project can raise, one line each: retry class, Omaha code, exit code, meaning. */
export const ERRORS = {
  ERR_USAGE: { retry: 'fail', omaha: 'error', exit: 'usage', means: 'bad command line' },
  ERR_CONFIG_FILE: { retry: 'fail', omaha: 'error', exit: 'config', means: 'a settings file cannot be read' },
  ERR_CONFIG_SYNTAX: { retry: 'fail', omaha: 'error', exit: 'config', means: 'a settings line is not KEY=VALUE' },
  ERR_CONFIG_VALUE: { retry: 'fail', omaha: 'error', exit: 'config', means: 'a settings value is invalid' },
  ERR_OMAHA_REQUEST: { retry: 'retry', omaha: 'omahaRequestError', exit: 'network', means: 'the update check could not be sent or got no answer' },
  ERR_OMAHA_HTTP: { retry: 'backoff', omaha: 'omahaRequestError', exit: 'network', means: 'the server answered the check with an HTTP error status' },
  ERR_OMAHA_EMPTY: { retry: 'backoff', omaha: 'omahaRequestEmptyResponseError', exit: 'network', means: 'the server answered with an empty body' },
  ERR_OMAHA_PARSE: { retry: 'backoff', omaha: 'omahaRequestXMLParseError', exit: 'network', means: 'the response is not well-formed XML (or too large)' },
  ERR_OMAHA_RESPONSE_INVALID: { retry: 'backoff', omaha: 'omahaResponseInvalid', exit: 'network', means: 'a field the client needs is missing or invalid' },
  ERR_OMAHA_SERVER_ERROR: { retry: 'backoff', omaha: 'omahaErrorInHTTPResponse', exit: 'network', means: 'the server reported an error-* status' },
  ERR_DOWNLOAD_TRANSFER: { retry: 'retry', omaha: 'downloadTransferError', exit: 'network', means: 'the payload transfer failed' },
  ERR_DOWNLOAD_RANGE_IGNORED: {
    retry: 'retry',
    omaha: 'downloadTransferError',
    exit: 'network',
    means: 'the server answered a Range request with the whole file (a delta apply then falls back to a full download)',
  },
  ERR_DOWNLOAD_WRITE: { retry: 'backoff', omaha: 'downloadWriteError', exit: 'io', means: 'writing the payload to the slot failed' },
  ERR_DOWNLOAD_STATE: { retry: 'backoff', omaha: 'downloadStateInitializationError', exit: 'io', means: 'the resume state could not be read or written' },
  ERR_PAYLOAD_SIZE_MISMATCH: { retry: 'backoff', omaha: 'payloadSizeMismatchError', exit: 'payload', means: "the payload's size differs from the offer" },
  ERR_PAYLOAD_HASH_MISMATCH: {
    retry: 'backoff',
    omaha: 'payloadHashMismatchError',
    exit: 'payload',
    means: "the payload's SHA-256 differs from the offer, or a block hash differs",
  },
  ERR_PAYLOAD_FORMAT: { retry: 'backoff', omaha: 'downloadPayloadVerificationError', exit: 'payload', means: 'the payload is not a valid payload archive' },
  ERR_PAYLOAD_SIGNATURE: { retry: 'fail', omaha: 'downloadPayloadPubKeyVerificationError', exit: 'payload', means: 'no signature verifies with a trusted key' },
  ERR_PAYLOAD_TARGET: { retry: 'fail', omaha: 'downloadPayloadVerificationError', exit: 'payload', means: 'the payload is for another app id or board' },
  ERR_PAYLOAD_DOWNGRADE: {
    retry: 'fail',
    omaha: 'downloadPayloadVerificationError',
    exit: 'payload',
    means: 'the payload is not newer than the running version',
  },
  ERR_PAYLOAD_TOO_LARGE: { retry: 'fail', omaha: 'downloadPayloadVerificationError', exit: 'payload', means: 'the image does not fit the slot' },
  ERR_IMAGE_VERIFICATION: { retry: 'backoff', omaha: 'newRootfsVerificationError', exit: 'payload', means: 'the image read back from the slot does not match' },
  ERR_KEYRING: { retry: 'fail', omaha: 'downloadPayloadPubKeyVerificationError', exit: 'payload', means: 'the trusted keys cannot be loaded' },
  ERR_INSTALL_DEVICE: { retry: 'backoff', omaha: 'installDeviceOpenError', exit: 'io', means: 'the write target cannot be opened' },
  ERR_INSTALL_DEVICE_SPACE: { retry: 'backoff', omaha: 'downloadWriteError', exit: 'io', means: 'the write target ran out of space' },
  ERR_GPT_INVALID: { retry: 'fail', omaha: 'installDeviceOpenError', exit: 'slots', means: 'no valid GPT on the disk' },
  ERR_GPT_IO: { retry: 'backoff', omaha: 'installDeviceOpenError', exit: 'slots', means: 'the disk cannot be read or written' },
  ERR_SLOT_NOT_FOUND: { retry: 'fail', omaha: 'installDeviceOpenError', exit: 'slots', means: 'the partition or slot does not exist' },
  ERR_SLOT_NOT_USR: { retry: 'fail', omaha: 'installDeviceOpenError', exit: 'slots', means: 'the partition is not a USR-type slot' },
  ERR_SLOT_DETECT: { retry: 'fail', omaha: 'installDeviceOpenError', exit: 'slots', means: 'the booted or passive slot cannot be determined' },
  ERR_NO_BOOTABLE_SLOT: { retry: 'fail', omaha: 'error', exit: 'slots', means: 'the boot simulator found no bootable slot' },
  ERR_ROLLBACK: { retry: 'fail', omaha: 'rollback', exit: 'failure', means: 'the machine came back on the old slot after an update' },
  ERR_UPDATE_IN_PROGRESS: { retry: 'retry', omaha: 'error', exit: 'failure', means: 'another update cycle is running' },
  ERR_STATE: { retry: 'backoff', omaha: 'error', exit: 'io', means: 'persisted state is unreadable or cannot be written' },
  ERR_CONTROL_SOCKET: { retry: 'backoff', omaha: 'error', exit: 'network', means: 'the control socket cannot be reached or served' },
  ERR_ABORTED: { retry: 'retry', omaha: 'error', exit: 'failure', means: 'the work was cancelled (shutdown)' },
  ERR_LOCK_UNAVAILABLE: { retry: 'retry', omaha: 'error', exit: 'lock', means: 'the semaphore has no free slot' },
  ERR_LOCK_NOT_HOLDER: { retry: 'fail', omaha: 'error', exit: 'lock', means: 'unlock by an id that does not hold the lock' },
  ERR_LOCK_DUPLICATE_HOLDER: { retry: 'fail', omaha: 'error', exit: 'lock', means: 'lock by an id that already holds it' },
  ERR_LOCK_CONFLICT: { retry: 'retry', omaha: 'error', exit: 'lock', means: 'the semaphore changed under a read-modify-write, retries exhausted' },
  ERR_LOCK_VALUE: { retry: 'backoff', omaha: 'error', exit: 'lock', means: 'the stored semaphore is not valid JSON of the expected shape' },
  ERR_LOCK_STORE: { retry: 'retry', omaha: 'error', exit: 'lock', means: 'etcd (or the FleetLock server) cannot be reached or refused the request' },
  ERR_REBOOT_COMMAND: { retry: 'backoff', omaha: 'error', exit: 'failure', means: 'the reboot command failed' },
  ERR_HEALTH_CHECK: { retry: 'backoff', omaha: 'error', exit: 'failure', means: 'the health check did not pass in time' },
  ERR_CONFIG_MISSING: { retry: 'fail', omaha: 'error', exit: 'config', means: 'a required setting or tool is missing and cannot be derived' },
  ERR_DEFERRED_BACKOFF: {
    retry: 'backoff',
    omaha: 'omahaUpdateDeferredForBackoff',
    exit: 'failure',
    means: 'the update is deferred (backoff, or a verified release known to fail)',
  },
  ERR_POSTINSTALL: {
    retry: 'backoff',
    omaha: 'postinstallRunnerError',
    exit: 'io',
    means: 'the post-install step failed: mounting the new slot, its kernel copy or its /postinst',
  },
  ERR_BOOT_CONFIG: {
    retry: 'backoff',
    omaha: 'error',
    exit: 'slots',
    means: "the bootloader's state on the ESP (grubenv, BLS entries) is missing, invalid or cannot be written",
  },
  ERR_FLEET_HALTED: {
    retry: 'backoff',
    omaha: 'omahaUpdateDeferredPerPolicy',
    exit: 'lock',
    means: 'the version is halted in the lock group (fleet circuit breaker)',
  },
  ERR_INTERNAL: { retry: 'fail', omaha: 'error', exit: 'internal', means: 'a bug' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Every code, in table order (for enums in schemas and metrics). */
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

export interface UpdateEngineErrorOptions {
  cause?: unknown;
  /** HTTP status, for ERR_OMAHA_HTTP (Omaha code 2000 + status). */
  httpStatus?: number;
  /** Extra structured fields for logs. */
  details?: Record<string, unknown>;
}

/** The project's one error type: a permanent `code`, a message that says what was being done, a cause. */
export class UpdateEngineError extends Error {
  override readonly name = 'UpdateEngineError';
  readonly code: ErrorCode;
  readonly httpStatus?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: UpdateEngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.details !== undefined) this.details = options.details;
  }
}

export function isUpdateEngineError(e: unknown): e is UpdateEngineError {
  return e instanceof UpdateEngineError;
}

/** Wraps anything thrown into an UpdateEngineError, keeping an existing code. */
export function wrapError(e: unknown, code: ErrorCode, message: string): UpdateEngineError {
  if (e instanceof UpdateEngineError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new UpdateEngineError(code, `${message}: ${reason}`, { cause: e });
}

/** How the attempter treats each code. */
export function classify(code: ErrorCode): ErrorClass {
  return ERRORS[code].retry;
}

/** The Omaha error code reported for an error (3/0 event). */
export function omahaErrorCode(e: UpdateEngineError | ErrorCode): number {
  if (typeof e !== 'string' && e.code === 'ERR_OMAHA_HTTP' && e.httpStatus !== undefined) {
    return OMAHA_ERROR.omahaRequestHTTPResponseBase + e.httpStatus;
  }
  return OMAHA_ERROR[ERRORS[typeof e === 'string' ? e : e.code].omaha];
}

/** The exit code for an error code (every CLI uses it). */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[ERRORS[code].exit];
}
