/**
 * @module API token secrets: minting and the stored (hashed) form.
 */
export { hashToken, mintToken } from "./tokens.js";
