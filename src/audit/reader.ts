import type { AuditChainer } from './chainer.js';
import { exportAuditRecords, type AuditExportFormat } from './export.js';
import type { ChainedAuditRecord } from './record.js';
import type { AuditFilter, AuditStore } from './store.js';
import { createAuditTail, type AuditTail } from './tail.js';

export interface AuditPage {
  /** Newest first. */
  records: ChainedAuditRecord[];
  /** The seq the next page continues before; undefined on the last page. */
  nextBeforeSeq: number | undefined;
}

/**
 * The audit log as the admin API reads it: search, export, the head and the live tail. Every
 * read first chains what is pending (`flush`), so an admin sees the events recorded before the
 * request, whichever instance recorded them.
 */
export interface AuditReader {
  /** One page of the records matching `filter`, newest first, before `beforeSeq` when given. */
  search(filter: AuditFilter, page: { limit: number; beforeSeq?: number | undefined }): Promise<AuditPage>;
  /** The matching records as text chunks, oldest first, up to the head at the call (audit/export.ts). */
  export(filter: AuditFilter, format: AuditExportFormat): Promise<AsyncGenerator<string, void, undefined>>;
  /** The seq of the newest chained record; 0 for an empty log. */
  headSeq(): Promise<number>;
  /** One shared reader for live followers of the log (GET /admin/events). */
  tail(options: { pollMs: number; onError: (error: unknown) => void }): AuditTail;
}

export function createAuditReader(options: { audit: Pick<AuditStore, 'list' | 'head' | 'scan' | 'listAfter'>; chain: Pick<AuditChainer, 'flush'> }): AuditReader {
  const { audit, chain } = options;
  return {
    async search(filter, { limit, beforeSeq }) {
      await chain.flush();
      // One more than asked: whether a next page exists, without an empty last page.
      const records = await audit.list(filter, { limit: limit + 1, ...(beforeSeq === undefined ? {} : { beforeSeq }) });
      const page = records.slice(0, limit);
      return { records: page, nextBeforeSeq: records.length > limit ? page.at(-1)?.seq : undefined };
    },
    async export(filter, format) {
      await chain.flush();
      return exportAuditRecords(audit, { format, filter });
    },
    async headSeq() {
      await chain.flush();
      return (await audit.head())?.seq ?? 0;
    },
    tail: ({ pollMs, onError }) => createAuditTail({ audit, chain, pollMs, onError }),
  };
}
