import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The usual process metrics under their usual names (CPU, memory, start time, event-loop delay),
 * read at scrape time. prom-client's collectDefaultMetrics is not used: it starts a GC observer
 * and an event-loop monitor that nothing can stop, once per call, and Tessera.close() must leave
 * nothing running (tests build many instances in one process).
 */
export function registerProcessMetrics(registry: Registry): { stop(): void } {
  const registers = [registry];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'User CPU time spent, in seconds.',
    registers,
    collect() {
      this.reset();
      this.inc(process.cpuUsage().user / 1e6);
    },
  });
  new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'System CPU time spent, in seconds.',
    registers,
    collect() {
      this.reset();
      this.inc(process.cpuUsage().system / 1e6);
    },
  });
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds.',
    registers,
    collect() {
      const usage = process.cpuUsage();
      this.reset();
      this.inc((usage.user + usage.system) / 1e6);
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch, in seconds.',
    registers,
    collect() {
      this.set(Math.round(Date.now() / 1000 - process.uptime()));
    },
  });
  const memory = (name: string, help: string, read: (usage: NodeJS.MemoryUsage) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(process.memoryUsage()));
      },
    });
  memory('process_resident_memory_bytes', 'Resident memory size, in bytes.', (usage) => usage.rss);
  memory('nodejs_heap_size_total_bytes', 'V8 heap size, in bytes.', (usage) => usage.heapTotal);
  memory('nodejs_heap_size_used_bytes', 'V8 heap used, in bytes.', (usage) => usage.heapUsed);
  memory('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects, in bytes.', (usage) => usage.external);
  const delay = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        // Nanoseconds; NaN until the monitor has sampled once.
        const value = read();
        this.set(Number.isFinite(value) ? value / 1e9 : 0);
      },
    });
  delay('nodejs_eventloop_lag_p50_seconds', 'Median event-loop delay since start, in seconds.', () => loop.percentile(50));
  delay('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event-loop delay since start, in seconds.', () => loop.percentile(99));
  delay('nodejs_eventloop_lag_max_seconds', 'Longest event-loop delay since start, in seconds.', () => loop.max);

  return {
    stop() {
      loop.disable();
    },
  };
}
