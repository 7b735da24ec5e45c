/**
 * @module Where an S3 blob store lives, read from CAIRN_BLOB_URL and the endpoint variables — and, for the
 * destination of `cairn migrate`, the CAIRN_TO_… variables over them: the one place that parses and checks
 * them, so every error names the variable to fix.
 */
import { invalid } from "@cairn/core";

export interface S3Location {
  bucket: string;
  /** The key prefix every object is stored under: empty, or ending in `/`. */
  prefix: string;
  /** An S3-compatible store's URL (MinIO, Ceph, R2…); absent for AWS itself. */
  endpoint?: string;
  /** Path-style addressing (`host/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle: boolean;
  region: string;
  /** Keys for this place alone (a migrate destination's); absent: the AWS SDK's default chain finds them. */
  credentials?: S3Credentials;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const S3_VARIABLES = {
  blobUrl: "CAIRN_BLOB_URL",
  endpoint: "CAIRN_S3_ENDPOINT",
  forcePathStyle: "CAIRN_S3_FORCE_PATH_STYLE",
} as const;

/**
 * The destination of `cairn migrate` may be another S3 service with other keys (MinIO to AWS S3 or R2): these
 * override the store's own settings for the destination only. Secrets come from variables, never flags, which
 * any user can read in `ps`.
 */
export const S3_DESTINATION_VARIABLES = {
  endpoint: "CAIRN_TO_S3_ENDPOINT",
  forcePathStyle: "CAIRN_TO_S3_FORCE_PATH_STYLE",
  region: "CAIRN_TO_AWS_REGION",
  accessKeyId: "CAIRN_TO_AWS_ACCESS_KEY_ID",
  secretAccessKey: "CAIRN_TO_AWS_SECRET_ACCESS_KEY",
  sessionToken: "CAIRN_TO_AWS_SESSION_TOKEN",
} as const;

/** Whose settings a bucket is opened with: a store's own, or those of the destination of `cairn migrate`. */
export type S3Settings = "store" | "migrate-destination";

const DEFAULT_REGION = "us-east-1";

// S3's bucket naming rules (lowercase letters, digits, dots and hyphens; 3–63 characters).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function parseBoolean(variable: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw invalid(`${variable} must be true or false, not ${JSON.stringify(value)}`);
}

function checkEndpoint(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${variable} must be a URL such as http://127.0.0.1:9000, not ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`${variable} must be an http:// or https:// URL, not ${JSON.stringify(value)}`);
  }
  return value;
}

// A region is a host-name label in the SDK's URLs and signatures (us-east-1, auto for R2, a MinIO's own name).
const REGION = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

function checkRegion(variable: string, value: string): string {
  if (!REGION.test(value)) {
    throw invalid(`${variable} must be a region name such as us-east-1, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The destination's keys: both or neither (then the store's own credentials apply), and a session token only
 * with them, since a token belongs to its key pair.
 */
function destinationCredentials(env: Record<string, string | undefined>): S3Credentials | undefined {
  const names = S3_DESTINATION_VARIABLES;
  const accessKeyId = env[names.accessKeyId];
  const secretAccessKey = env[names.secretAccessKey];
  const sessionToken = env[names.sessionToken];
  if (!accessKeyId && !secretAccessKey) {
    if (sessionToken) {
      throw invalid(
        `${names.sessionToken} is set without ${names.accessKeyId} and ${names.secretAccessKey}`,
        {
          hint: "set the destination's key pair too, or unset it to use the source's credentials",
        },
      );
    }
    return undefined;
  }
  if (!accessKeyId || !secretAccessKey) {
    const [given, missing] = accessKeyId
      ? [names.accessKeyId, names.secretAccessKey]
      : [names.secretAccessKey, names.accessKeyId];
    throw invalid(`${given} is set but ${missing} is not`, {
      hint: "set both for the destination's own key, or neither to use the source's credentials",
    });
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * `s3://bucket/prefix` plus the environment's endpoint, addressing style and region. The endpoint comes from
 * CAIRN_S3_ENDPOINT, else the AWS SDK's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; with an endpoint,
 * path-style addressing is on unless CAIRN_S3_FORCE_PATH_STYLE=false. Credentials are not read here: the
 * SDK's default chain finds them (AWS_ACCESS_KEY_ID…, profiles, instance roles).
 *
 * With `settings` "migrate-destination", each CAIRN_TO_… variable that is set overrides the store's setting for
 * the destination. A destination endpoint brings the usual default for an endpoint (path-style addressing),
 * not the source's style, since the style belongs to the service; the destination's keys, when given, are used
 * instead of the default chain.
 */
export function parseS3Location(
  blobUrl: string,
  env: Record<string, string | undefined> = process.env,
  settings: S3Settings = "store",
): S3Location {
  const hint = "set it to s3://bucket or s3://bucket/prefix, or unset it to keep blobs in the store folder";
  const match = /^s3:\/\/([^/?#]*)(?:\/([^?#]*))?$/.exec(blobUrl);
  if (!match) {
    throw invalid(`${S3_VARIABLES.blobUrl} must be an s3:// URL, not ${JSON.stringify(blobUrl)}`, { hint });
  }
  const bucket = match[1]!;
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    throw invalid(
      `${S3_VARIABLES.blobUrl} names the bucket ${JSON.stringify(bucket)}, which is not a valid S3 bucket name`,
      { hint: "bucket names are 3-63 lowercase letters, digits, dots and hyphens" },
    );
  }
  const segments = (match[2] ?? "").split("/").filter((s) => s !== "");
  for (const segment of segments) {
    if (segment === "." || segment === ".." || segment.includes("\\")) {
      throw invalid(`${S3_VARIABLES.blobUrl} has an invalid prefix segment ${JSON.stringify(segment)}`, {
        hint,
      });
    }
  }
  const prefix = segments.length === 0 ? "" : `${segments.join("/")}/`;

  let endpoint: string | undefined;
  for (const variable of [S3_VARIABLES.endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
    const value = env[variable];
    if (value) {
      endpoint = checkEndpoint(variable, value);
      break;
    }
  }
  const pathStyle = env[S3_VARIABLES.forcePathStyle];
  let forcePathStyle = pathStyle
    ? parseBoolean(S3_VARIABLES.forcePathStyle, pathStyle)
    : endpoint !== undefined;
  let region = env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION;
  let credentials: S3Credentials | undefined;

  if (settings === "migrate-destination") {
    const names = S3_DESTINATION_VARIABLES;
    const toEndpoint = env[names.endpoint];
    if (toEndpoint) {
      endpoint = checkEndpoint(names.endpoint, toEndpoint);
      forcePathStyle = true;
    }
    const toPathStyle = env[names.forcePathStyle];
    if (toPathStyle) forcePathStyle = parseBoolean(names.forcePathStyle, toPathStyle);
    const toRegion = env[names.region];
    if (toRegion) region = checkRegion(names.region, toRegion);
    credentials = destinationCredentials(env);
  }
  return {
    bucket,
    prefix,
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle,
    region,
    ...(credentials ? { credentials } : {}),
  };
}
