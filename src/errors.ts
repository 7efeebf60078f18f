// The error model: one error class with permanent string codes, how each code is handled
// (retry, back off, fail), its Omaha error code (update_engine numbering) and the CLI exit code.
// Only the attempter and the CLI entry points catch; adapters wrap foreign errors with a code.

/** Every code the project can raise. Codes are permanent: scripts and logs depend on them. */
export const ERROR_CODES = [
  // usage and configuration
  'ERR_USAGE', // bad command line
  'ERR_NOT_IMPLEMENTED', // a command of the contract that is not built yet
  'ERR_CONFIG_FILE', // a settings file cannot be read
  'ERR_CONFIG_SYNTAX', // a settings line is not KEY=VALUE
  'ERR_CONFIG_VALUE', // a settings value is invalid
  'ERR_CONFIG_MISSING', // a required setting has no value and cannot be derived
  // Omaha
  'ERR_OMAHA_REQUEST', // the update check could not be sent or got no answer
  'ERR_OMAHA_HTTP', // the server answered the check with an HTTP error status
  'ERR_OMAHA_EMPTY', // the server answered with an empty body
  'ERR_OMAHA_PARSE', // the response is not well-formed XML (or too large)
  'ERR_OMAHA_RESPONSE_INVALID', // a field the client needs is missing or invalid
  'ERR_OMAHA_SERVER_ERROR', // the server reported an error-* status
  // download and payload
  'ERR_DOWNLOAD_TRANSFER', // the payload transfer failed
  'ERR_DOWNLOAD_WRITE', // writing the payload to the slot failed
  'ERR_DOWNLOAD_STATE', // the resume state could not be read or written
  'ERR_PAYLOAD_SIZE_MISMATCH', // the payload's size differs from the offer
  'ERR_PAYLOAD_HASH_MISMATCH', // the payload's SHA-256 differs from the offer, or a block hash differs
  'ERR_PAYLOAD_FORMAT', // the payload is not a valid payload archive
  'ERR_PAYLOAD_SIGNATURE', // no signature verifies with a trusted key
  'ERR_PAYLOAD_TARGET', // the payload is for another app id or board
  'ERR_PAYLOAD_DOWNGRADE', // the payload is not newer than the running version
  'ERR_PAYLOAD_TOO_LARGE', // the image does not fit the slot
  'ERR_IMAGE_VERIFICATION', // the image read back from the slot does not match
  'ERR_KEYRING', // the trusted keys cannot be loaded
  'ERR_INSTALL_DEVICE', // the write target cannot be opened
  'ERR_INSTALL_DEVICE_SPACE', // the write target ran out of space
  'ERR_POSTINSTALL', // the post-install step failed: mounting the new slot, its kernel copy or its /postinst
  // slots and GPT
  'ERR_GPT_INVALID', // no valid GPT on the disk
  'ERR_GPT_IO', // the disk cannot be read or written
  'ERR_SLOT_NOT_FOUND', // the partition or slot does not exist
  'ERR_SLOT_NOT_USR', // the partition is not a USR-type slot
  'ERR_SLOT_DETECT', // the booted or passive slot cannot be determined
  'ERR_NO_BOOTABLE_SLOT', // the boot simulator found no bootable slot
  'ERR_BOOT_CONFIG', // the bootloader's state on the ESP (grubenv, BLS entries) is missing, invalid or cannot be written
  // daemon
  'ERR_DEFERRED_BACKOFF', // the update is deferred (backoff, or a version known to fail)
  'ERR_ROLLBACK', // the machine came back on the old slot after an update
  'ERR_UPDATE_IN_PROGRESS', // another update cycle is running
  'ERR_STATE', // persisted state is unreadable or cannot be written
  'ERR_CONTROL_SOCKET', // the control socket cannot be reached or served
  'ERR_ABORTED', // the work was cancelled (shutdown)
  // reboot coordination
  'ERR_LOCK_UNAVAILABLE', // the semaphore has no free slot
  'ERR_LOCK_NOT_HOLDER', // unlock by an id that does not hold the lock
  'ERR_LOCK_DUPLICATE_HOLDER', // lock by an id that already holds it
  'ERR_LOCK_CONFLICT', // the semaphore changed under a read-modify-write, retries exhausted
  'ERR_LOCK_VALUE', // the stored semaphore is not valid JSON of the expected shape
  'ERR_LOCK_STORE', // etcd (or the FleetLock server) cannot be reached or refused the request
  'ERR_REBOOT_COMMAND', // the reboot command failed
  'ERR_HEALTH_CHECK', // the health check did not pass in time
  'ERR_FLEET_HALTED', // the version is halted in the lock group (fleet circuit breaker)
  // anything else
  'ERR_INTERNAL', // a bug
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What to do with a failure: try again soon, try again after a backoff, or give up. */
export type ErrorClass = 'retry' | 'backoff' | 'fail';

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
  switch (code) {
    case 'ERR_OMAHA_REQUEST':
    case 'ERR_DOWNLOAD_TRANSFER':
    case 'ERR_LOCK_CONFLICT':
    case 'ERR_LOCK_STORE':
    case 'ERR_LOCK_UNAVAILABLE':
    case 'ERR_UPDATE_IN_PROGRESS':
    case 'ERR_ABORTED':
      return 'retry';
    case 'ERR_OMAHA_HTTP':
    case 'ERR_OMAHA_EMPTY':
    case 'ERR_OMAHA_PARSE':
    case 'ERR_OMAHA_RESPONSE_INVALID':
    case 'ERR_OMAHA_SERVER_ERROR':
    case 'ERR_DOWNLOAD_WRITE':
    case 'ERR_DOWNLOAD_STATE':
    case 'ERR_PAYLOAD_SIZE_MISMATCH':
    case 'ERR_PAYLOAD_HASH_MISMATCH':
    case 'ERR_PAYLOAD_FORMAT':
    case 'ERR_IMAGE_VERIFICATION':
    case 'ERR_INSTALL_DEVICE':
    case 'ERR_INSTALL_DEVICE_SPACE':
    case 'ERR_POSTINSTALL':
    case 'ERR_GPT_IO':
    case 'ERR_DEFERRED_BACKOFF':
    case 'ERR_STATE':
    case 'ERR_CONTROL_SOCKET':
    case 'ERR_REBOOT_COMMAND':
    case 'ERR_HEALTH_CHECK':
    case 'ERR_LOCK_VALUE':
    case 'ERR_FLEET_HALTED':
    case 'ERR_BOOT_CONFIG':
      return 'backoff';
    case 'ERR_USAGE':
    case 'ERR_NOT_IMPLEMENTED':
    case 'ERR_CONFIG_FILE':
    case 'ERR_CONFIG_SYNTAX':
    case 'ERR_CONFIG_VALUE':
    case 'ERR_CONFIG_MISSING':
    case 'ERR_PAYLOAD_SIGNATURE':
    case 'ERR_PAYLOAD_TARGET':
    case 'ERR_PAYLOAD_DOWNGRADE':
    case 'ERR_PAYLOAD_TOO_LARGE':
    case 'ERR_KEYRING':
    case 'ERR_GPT_INVALID':
    case 'ERR_SLOT_NOT_FOUND':
    case 'ERR_SLOT_NOT_USR':
    case 'ERR_SLOT_DETECT':
    case 'ERR_NO_BOOTABLE_SLOT':
    case 'ERR_ROLLBACK':
    case 'ERR_LOCK_NOT_HOLDER':
    case 'ERR_LOCK_DUPLICATE_HOLDER':
    case 'ERR_INTERNAL':
      return 'fail';
  }
}

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

/** The Omaha error code reported for an error (3/0 event). */
export function omahaErrorCode(e: UpdateEngineError | ErrorCode): number {
  const code = typeof e === 'string' ? e : e.code;
  switch (code) {
    case 'ERR_OMAHA_REQUEST':
      return OMAHA_ERROR.omahaRequestError;
    case 'ERR_OMAHA_HTTP': {
      const status = typeof e === 'string' ? undefined : e.httpStatus;
      return status === undefined ? OMAHA_ERROR.omahaRequestError : OMAHA_ERROR.omahaRequestHTTPResponseBase + status;
    }
    case 'ERR_OMAHA_EMPTY':
      return OMAHA_ERROR.omahaRequestEmptyResponseError;
    case 'ERR_OMAHA_PARSE':
      return OMAHA_ERROR.omahaRequestXMLParseError;
    case 'ERR_OMAHA_RESPONSE_INVALID':
      return OMAHA_ERROR.omahaResponseInvalid;
    case 'ERR_OMAHA_SERVER_ERROR':
      return OMAHA_ERROR.omahaErrorInHTTPResponse;
    case 'ERR_DOWNLOAD_TRANSFER':
      return OMAHA_ERROR.downloadTransferError;
    case 'ERR_DOWNLOAD_WRITE':
    case 'ERR_INSTALL_DEVICE_SPACE':
      return OMAHA_ERROR.downloadWriteError;
    case 'ERR_DOWNLOAD_STATE':
      return OMAHA_ERROR.downloadStateInitializationError;
    case 'ERR_PAYLOAD_SIZE_MISMATCH':
      return OMAHA_ERROR.payloadSizeMismatchError;
    case 'ERR_PAYLOAD_HASH_MISMATCH':
      return OMAHA_ERROR.payloadHashMismatchError;
    case 'ERR_PAYLOAD_FORMAT':
    case 'ERR_PAYLOAD_TARGET':
    case 'ERR_PAYLOAD_DOWNGRADE':
    case 'ERR_PAYLOAD_TOO_LARGE':
      return OMAHA_ERROR.downloadPayloadVerificationError;
    case 'ERR_PAYLOAD_SIGNATURE':
    case 'ERR_KEYRING':
      return OMAHA_ERROR.downloadPayloadPubKeyVerificationError;
    case 'ERR_IMAGE_VERIFICATION':
      return OMAHA_ERROR.newRootfsVerificationError;
    case 'ERR_POSTINSTALL':
      return OMAHA_ERROR.postinstallRunnerError;
    case 'ERR_INSTALL_DEVICE':
    case 'ERR_GPT_INVALID':
    case 'ERR_GPT_IO':
    case 'ERR_SLOT_NOT_FOUND':
    case 'ERR_SLOT_NOT_USR':
    case 'ERR_SLOT_DETECT':
      return OMAHA_ERROR.installDeviceOpenError;
    case 'ERR_DEFERRED_BACKOFF':
      return OMAHA_ERROR.omahaUpdateDeferredForBackoff;
    case 'ERR_ROLLBACK':
      return OMAHA_ERROR.rollback;
    case 'ERR_FLEET_HALTED':
      return OMAHA_ERROR.omahaUpdateDeferredPerPolicy;
    default:
      return OMAHA_ERROR.error;
  }
}

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

/** The exit code for an error code (one table; every CLI uses it). */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'ERR_USAGE':
    case 'ERR_NOT_IMPLEMENTED':
      return EXIT_CODES.usage;
    case 'ERR_CONFIG_FILE':
    case 'ERR_CONFIG_SYNTAX':
    case 'ERR_CONFIG_VALUE':
    case 'ERR_CONFIG_MISSING':
      return EXIT_CODES.config;
    case 'ERR_PAYLOAD_SIZE_MISMATCH':
    case 'ERR_PAYLOAD_HASH_MISMATCH':
    case 'ERR_PAYLOAD_FORMAT':
    case 'ERR_PAYLOAD_SIGNATURE':
    case 'ERR_PAYLOAD_TARGET':
    case 'ERR_PAYLOAD_DOWNGRADE':
    case 'ERR_PAYLOAD_TOO_LARGE':
    case 'ERR_IMAGE_VERIFICATION':
    case 'ERR_KEYRING':
      return EXIT_CODES.payload;
    case 'ERR_GPT_INVALID':
    case 'ERR_GPT_IO':
    case 'ERR_SLOT_NOT_FOUND':
    case 'ERR_SLOT_NOT_USR':
    case 'ERR_SLOT_DETECT':
    case 'ERR_NO_BOOTABLE_SLOT':
      return EXIT_CODES.slots;
    case 'ERR_OMAHA_REQUEST':
    case 'ERR_OMAHA_HTTP':
    case 'ERR_OMAHA_EMPTY':
    case 'ERR_OMAHA_PARSE':
    case 'ERR_OMAHA_RESPONSE_INVALID':
    case 'ERR_OMAHA_SERVER_ERROR':
    case 'ERR_DOWNLOAD_TRANSFER':
    case 'ERR_CONTROL_SOCKET':
      return EXIT_CODES.network;
    case 'ERR_LOCK_UNAVAILABLE':
    case 'ERR_LOCK_NOT_HOLDER':
    case 'ERR_LOCK_DUPLICATE_HOLDER':
    case 'ERR_LOCK_CONFLICT':
    case 'ERR_LOCK_VALUE':
    case 'ERR_LOCK_STORE':
    case 'ERR_FLEET_HALTED':
      return EXIT_CODES.lock;
    case 'ERR_DOWNLOAD_WRITE':
    case 'ERR_DOWNLOAD_STATE':
    case 'ERR_INSTALL_DEVICE':
    case 'ERR_INSTALL_DEVICE_SPACE':
    case 'ERR_STATE':
      return EXIT_CODES.io;
    case 'ERR_INTERNAL':
      return EXIT_CODES.internal;
    default:
      return EXIT_CODES.failure;
  }
}
