import { closeSync, openSync, writeSync } from 'node:fs';
import type { LogFunction, LogLevel } from '@bp/api';

const PREFIX: Record<LogLevel, string> = { info: 'INFO:', warn: 'WARN:', err: 'ERROR:' };

/** `YYYY-MM-DD HH:MM:SS` in local time, as PVE's task logs print it. */
export function localTimestamp(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * PVE's `debugmsg`: every line goes to the job's task output and, while a guest's log file is
 * open, also to that file as `<YYYY-MM-DD HH:MM:SS> INFO: <line>`.
 */
export class TaskLog {
  private fd: number | undefined;

  constructor(private readonly jobLog: LogFunction) {}

  /** Creates (truncates) the guest's log file; lines from now on also go there. */
  openFile(path: string): void {
    this.fd = openSync(path, 'w', 0o644);
  }

  /** Closes the guest's log file (before it is handed to the provider). */
  closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  write(level: LogLevel, message: string): void {
    for (const line of message.split('\n')) {
      if (line === '' && message !== '') continue;
      this.jobLog(level, line);
      if (this.fd !== undefined) writeSync(this.fd, `${localTimestamp(new Date())} ${PREFIX[level]} ${line}\n`);
    }
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('err', message);
  }
}

/** `HH:MM:SS` of a duration, as vzdump prints it ("Finished Backup of VM 100 (00:00:03)"). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}
