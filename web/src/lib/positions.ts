/**
 * Event positions and order ids are bigints written as decimal strings; they can outgrow
 * Number, so they are compared as BigInt.
 */
export const position = (id: string): bigint => BigInt(id);

/** Sort key for ids that keeps numeric order without BigInt in the hot sort loop. */
export const idSortKey = (id: string): string => id.padStart(20, '0');
