import { Type } from 'typebox';

/** Shared schema pieces for the REST API. */
export const Uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) });
export const DateTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });
export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NullableDateTime = (description?: string) => Type.Union([DateTime(), Type.Null()], description ? { description } : {});
export const Email = Type.String({ format: 'email', maxLength: 254 });

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.String(),
  code: Type.String(),
  request_id: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), message: Type.String() }))),
}, { description: 'RFC 9457 problem details' });

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
