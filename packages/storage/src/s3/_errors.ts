/**
 * @module What an S3 failure means to a cairn user: the SDK's many error names and statuses mapped once to
 * CairnError codes, with messages naming the bucket (and the endpoint when the store cannot be reached).
 */
import { CairnError, forbidden, notFound, unauthorized } from "@cairn/core";

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const CREDENTIAL_ERRORS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "CredentialsProviderError",
  "AuthorizationHeaderMalformed",
]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

export const httpStatus = (error: unknown): number | undefined =>
  (error as SdkError | undefined)?.$metadata?.httpStatusCode;

const nameOf = (error: unknown): string => (error as SdkError | undefined)?.name ?? "";

export function isMissing(error: unknown): boolean {
  const name = nameOf(error);
  return (
    name === "NoSuchKey" || name === "NotFound" || (httpStatus(error) === 404 && name !== "NoSuchBucket")
  );
}

/** The S3 error says the requested range starts past the end of the object. */
export const isBadRange = (error: unknown): boolean =>
  nameOf(error) === "InvalidRange" || httpStatus(error) === 416;

function isNetwork(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as SdkError).code;
    if (code && NETWORK_CODES.has(code)) return true;
    const name = nameOf(e);
    if (name === "TimeoutError" || name === "RequestTimeout") return true;
  }
  return false;
}

const placeOf = (where: { bucket: string; endpoint?: string }): string =>
  `bucket ${where.bucket}${where.endpoint ? ` at ${where.endpoint}` : ""}`;

/**
 * A CairnError for an S3 failure on `what` (a key, or the bucket): NOT_FOUND for absent objects and buckets,
 * UNAUTHORIZED for credentials S3 does not accept, FORBIDDEN for credentials without access, INTERNAL with
 * the endpoint for a store that cannot be reached. Errors that are already CairnErrors, or that came from the
 * caller's own data source, pass through unchanged.
 */
export function s3Error(error: unknown, where: { bucket: string; endpoint?: string }, what: string): unknown {
  if (error instanceof CairnError) return error;
  const name = nameOf(error);
  const place = placeOf(where);
  if (name === "NoSuchBucket") {
    return notFound(`the S3 ${place} does not exist`, { hint: "create the bucket, or fix CAIRN_BLOB_URL" });
  }
  if (isMissing(error)) return notFound(`no blob ${what}`);
  if (CREDENTIAL_ERRORS.has(name) || httpStatus(error) === 401) {
    return unauthorized(`S3 did not accept the credentials for the ${place} (${name})`, {
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to a key for this bucket",
      cause: error,
    });
  }
  if (name === "AccessDenied" || name === "AllAccessDisabled" || httpStatus(error) === 403) {
    return forbidden(`access denied to ${what} in the S3 ${place}`, {
      hint: "grant the key s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket",
      cause: error,
    });
  }
  if (isNetwork(error)) {
    return new CairnError("INTERNAL", `cannot reach the S3 ${place}: ${(error as Error).message}`, {
      hint: "check the endpoint (CAIRN_S3_ENDPOINT or AWS_ENDPOINT_URL_S3) and the network; retry when it is back",
      cause: error,
    });
  }
  if (httpStatus(error) !== undefined) {
    return new CairnError(
      "INTERNAL",
      `S3 failed on ${what} in the ${place}: ${name} ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return error;
}
