/**
 * @module How requests are checked against the TypeBox schemas: compiled by TypeBox itself. A JSON body is
 * checked as sent (no coercion: `{"version": 3}` is refused, not read as "3"); the query string and path
 * parameters, which are always text, have their whole-number fields converted first, strictly (`1.5` and
 * `10abc` stay text and fail), and nothing else is changed.
 */
import type { FastifySchemaCompiler } from "fastify";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";

const WHOLE_NUMBER = /^[+-]?\d{1,15}$/;

interface ObjectSchema {
  properties?: Record<string, { type?: unknown }>;
}

/** Converts the text values of integer fields in a flat object (a query string or path parameters). */
function convertWholeNumbers(schema: TSchema, value: unknown): unknown {
  const properties = (schema as ObjectSchema).properties;
  if (!properties || value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const converted: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, field] of Object.entries(properties)) {
    const text = converted[key];
    if (
      (field.type === "integer" || field.type === "number") &&
      typeof text === "string" &&
      WHOLE_NUMBER.test(text)
    ) {
      converted[key] = Number(text);
    }
  }
  return converted;
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema);
  const prepare = httpPart === "body" ? (v: unknown) => v : (v: unknown) => convertWholeNumbers(schema, v);
  return (input: unknown) => {
    const value = prepare(input);
    return validator.Check(value) ? { value } : { error: validator.Errors(value) as never };
  };
};
