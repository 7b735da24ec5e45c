/**
 * @module Where an S3 blob store lives, read from CAIRN_BLOB_URL and the endpoint variables: the one place
 * that parses and checks them, so every error names the variable to fix.
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
}

export const S3_VARIABLES = {
  blobUrl: "CAIRN_BLOB_URL",
  endpoint: "CAIRN_S3_ENDPOINT",
  forcePathStyle: "CAIRN_S3_FORCE_PATH_STYLE",
} as const;

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

/**
 * `s3://bucket/prefix` plus the environment's endpoint, addressing style and region. The endpoint comes from
 * CAIRN_S3_ENDPOINT, else the AWS SDK's AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; with an endpoint,
 * path-style addressing is on unless CAIRN_S3_FORCE_PATH_STYLE=false. Credentials are not read here: the
 * SDK's default chain finds them (AWS_ACCESS_KEY_ID…, profiles, instance roles).
 */
export function parseS3Location(
  blobUrl: string,
  env: Record<string, string | undefined> = process.env,
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
  const forcePathStyle = pathStyle
    ? parseBoolean(S3_VARIABLES.forcePathStyle, pathStyle)
    : endpoint !== undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION;
  return { bucket, prefix, ...(endpoint ? { endpoint } : {}), forcePathStyle, region };
}
