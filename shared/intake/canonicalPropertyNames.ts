import { z } from 'zod';

/**
 * Graph callers send what Graph accepts: `@odata.type` annotations, and property names in any case
 * (the create-invitation reference itself writes `InvitedUserMessageInfo`). Before validation we
 * drop the annotations and rename each property to the spelling the schema declares, so that the
 * strict schema then rejects only names that are really unknown.
 */
export function canonicalizePropertyNames(value: unknown, schema: z.ZodType): unknown {
  const target = innerSchema(schema);
  if (Array.isArray(value)) {
    return target instanceof z.ZodArray ? value.map((item) => canonicalizePropertyNames(item, target.element as z.ZodType)) : value;
  }
  if (!isPlainObject(value) || !(target instanceof z.ZodObject)) return value;

  const shape = target.shape as Record<string, z.ZodType>;
  const declared = new Map(Object.keys(shape).map((name) => [name.toLowerCase(), name]));
  const result: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(value)) {
    if (name.startsWith('@odata.')) continue;
    const canonical = declared.get(name.toLowerCase()) ?? name;
    if (canonical in result) {
      // Two spellings of one property: keep both visible so validation names the clash.
      result[name] = property;
      continue;
    }
    const propertySchema = shape[canonical];
    result[canonical] = propertySchema ? canonicalizePropertyNames(property, propertySchema) : property;
  }
  return result;
}

function innerSchema(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      // A transform's input side is the shape callers send; a preprocess puts the schema on the output side.
      current = (current.in instanceof z.ZodTransform ? current.out : current.in) as z.ZodType;
    } else {
      return current;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
