import { BpError } from '@bp/api';
import { z } from 'zod';

/** One storage.cfg key of a plugin's `configSchema`, in the terms PVE's property schema uses. */
export interface ConfigProperty {
  key: string;
  /** JSON types the key accepts (`string`, `integer`, `number`, `boolean`, `array`, `object`). */
  types: string[];
  required: boolean;
  enum?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  description?: string;
}

type JsonSchema = Record<string, unknown>;

function typesOf(schema: JsonSchema): string[] {
  const out = new Set<string>();
  const type = schema.type;
  if (typeof type === 'string') out.add(type);
  if (Array.isArray(type)) for (const item of type) out.add(String(item));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const members = schema[key];
    if (Array.isArray(members)) for (const member of members) for (const inner of typesOf(member as JsonSchema)) out.add(inner);
  }
  if (out.size === 0 && Array.isArray(schema.enum)) out.add('string');
  return [...out];
}

/**
 * The top-level keys of a plugin's `configSchema` (an object schema, as storage.cfg sections are
 * flat), read through zod's JSON Schema export. Throws BP_INVALID_CONFIG for a schema that is not
 * a flat object, since PVE could not express it.
 */
export function describeConfigSchema(schema: z.ZodType): ConfigProperty[] {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  } catch (error) {
    throw new BpError('BP_INVALID_CONFIG', `the plugin's configSchema cannot be expressed as PVE storage properties: ${(error as Error).message}`, { cause: error });
  }
  const properties = json.properties;
  if (json.type !== 'object' || typeof properties !== 'object' || properties === null) {
    throw new BpError('BP_INVALID_CONFIG', "the plugin's configSchema must be a z.object of storage.cfg keys; PVE storage sections are flat key/value lists");
  }
  const required = new Set(Array.isArray(json.required) ? json.required.map(String) : []);
  return Object.entries(properties as Record<string, JsonSchema>).map(([key, property]) => {
    const described: ConfigProperty = { key, types: typesOf(property), required: required.has(key) };
    if (Array.isArray(property.enum)) described.enum = property.enum.map(String);
    if (property.default !== undefined) described.default = property.default;
    if (typeof property.minimum === 'number' && Number.isSafeInteger(property.minimum)) described.minimum = property.minimum;
    if (typeof property.maximum === 'number' && Number.isSafeInteger(property.maximum)) described.maximum = property.maximum;
    if (typeof property.description === 'string') described.description = property.description;
    return described;
  });
}
