// Helpers for tests that drive Ferry with Huawei's Node SDK: SDK exceptions turned into
// errors that say what the server answered, and calls expected to fail with a 4xx.
import { ClientRequestException } from '@huaweicloud/huaweicloud-sdk-core/exception/ClientRequestException.js';
import { ServiceResponseException } from '@huaweicloud/huaweicloud-sdk-core/exception/ServiceResponseException.js';

/** An SDK exception turned into an Error whose message says what the server answered. */
export function readable(err: unknown): unknown {
  if (err instanceof ServiceResponseException) {
    return new Error(
      `${err.name}: HTTP ${String(err.httpStatusCode)} ${err.errorCode ?? '(no error_code)'}: ` +
        `${err.errorMsg ?? ''} (x-request-id ${err.requestId ?? '-'})`,
      { cause: err },
    );
  }
  return err;
}

/** Awaits an SDK call, typing its result as the wire JSON it really is. */
export async function call<T>(p: Promise<unknown>): Promise<T> {
  try {
    return (await p) as T;
  } catch (err) {
    throw readable(err);
  }
}

/** Awaits an SDK call that must fail with a ClientRequestException (HTTP 4xx). */
export async function clientError(p: Promise<unknown>): Promise<ClientRequestException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientRequestException) return err;
    throw readable(err);
  }
  throw new Error('the SDK call succeeded; expected a ClientRequestException');
}

/** The fields of an SWR auto-sync rule (huawei-compat.md section 3), sorted, as SDKs see them. */
export const AUTO_SYNC_RULE_FIELDS = [
  'createdAt',
  'domainID',
  'domainName',
  'id',
  'namespace',
  'override',
  'remoteNamespace',
  'remoteRegionId',
  'repoName',
  'syncAuto',
  'updatedAt',
];
