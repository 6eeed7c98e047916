// Types for preconnect.js (plain JavaScript: it runs before any TypeScript loader), for the tests.
import type { Socket } from "node:net";

export interface PreconnectRegistry {
  /** How many sockets were opened from the hint. */
  readonly opened: number;
  take(host: string, port: number): Socket | undefined;
  record(host: string, port: number): void;
  setLimit(count: number): void;
  close(): void;
  save(): void;
}

export function selectionOf(argv: readonly string[]): string[];
export function endpointKey(host: string, port: number): string;
export function startPreconnect(argv: readonly string[]): PreconnectRegistry | undefined;
export function preconnect(argv: readonly string[]): void;
