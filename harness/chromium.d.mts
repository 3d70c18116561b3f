// Types for chromium.mjs, so strict TypeScript (tests) can import it.
import type { Browser, Page } from 'puppeteer';

export function findChromium(): string;
export const DEFAULT_USE_SWIFTSHADER: boolean;
export const PROTOCOL_TIMEOUT_MS: number;
export function chromiumArgs(opts?: { useSwiftShader?: boolean }): string[];
export function launchBrowser(opts?: { useSwiftShader?: boolean; executablePath?: string; extraArgs?: string[]; protocolTimeoutMs?: number }): Promise<Browser>;
export interface PageRun {
  readonly ended: Promise<never>;
  race<T>(p: Promise<T>): Promise<T>;
  dispose(): void;
}
export function pageRun(page: Page, opts: { deadlineAt: number; timeoutMessage: () => string }): PageRun;
export function waitForPage<T>(page: Page, check: () => T, run: PageRun, pollMs?: number): Promise<NonNullable<Awaited<T>>>;
export function describeError(e: unknown): string;
