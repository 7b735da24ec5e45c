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

/** The fields of a flat object schema (a query string or path parameters) that hold whole numbers. */
function numberFields(schema: TSchema): string[] {
  const properties = (schema as ObjectSchema).properties ?? {};
  return Object.keys(properties).filter((key) => {
    const type = properties[key]?.type;
    return type === "integer" || type === "number";
  });
}

/** Converts the text values of `fields` in a flat object (a query string or path parameters). */
function convertWholeNumbers(fields: string[], value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const converted: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of fields) {
    const text = converted[key];
    if (typeof text === "string" && WHOLE_NUMBER.test(text)) converted[key] = Number(text);
  }
  return converted;
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema);
  const fields = httpPart === "body" ? [] : numberFields(schema);
  // Most parameters are all text (a ref, a name): nothing to convert, nothing copied per request.
  const prepare = fields.length === 0 ? (v: unknown) => v : (v: unknown) => convertWholeNumbers(fields, v);
  return (input: unknown) => {
    const value = prepare(input);
    return validator.Check(value) ? { value } : { error: validator.Errors(value) as never };
  };
};
