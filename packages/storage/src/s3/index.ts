/**
 * @module The S3 blob driver (AWS S3 and S3-compatible stores).
 */
export { openS3BlobStore, S3BlobStore, type S3BlobStoreOptions } from "./blob-store.js";
export {
  parseS3Location,
  S3_DESTINATION_VARIABLES,
  S3_VARIABLES,
  type S3Credentials,
  type S3Location,
  type S3Settings,
} from "./config.js";
