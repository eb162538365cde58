/**
 * The server's standard output: log lines, and on a terminal one status line
 * at the bottom that redraws in place (the demo's seeding progress). A log
 * line written while the status line is shown clears it, prints, and draws it
 * again below, so neither garbles the other. Off a terminal there is no status
 * line: `show` prints nothing and `end` prints its text as a line.
 */

/** Where the text goes, and whether it is a terminal (that redraws a line). */
export interface Output {
  terminal: boolean;
  write(text: string): void;
}

export class StatusLine {
  readonly #out: Output;
  #current: string | null = null;

  constructor(out: Output) {
    this.#out = out;
  }

  get terminal(): boolean {
    return this.#out.terminal;
  }

  /** Shows `text` as the status line, replacing the one shown (terminal only). */
  show(text: string): void {
    if (!this.#out.terminal) return;
    this.#current = text;
    this.#out.write(`\r${text}\x1b[K`);
  }

  /** Ends the status line with `text`, which stays as an ordinary line. */
  end(text: string): void {
    const shown = this.#current !== null;
    this.#current = null;
    this.#out.write(shown ? `\r${text}\x1b[K\n` : `${text}\n`);
  }

  /** Writes `text` (a log line, or several lines) above the status line. */
  line(text: string): void {
    if (this.#current === null) this.#out.write(`${text}\n`);
    else this.#out.write(`\r\x1b[K${text}\n${this.#current}`);
  }
}

const encoder = new TextEncoder();

/**
 * Standard output, written whole (a pipe may take a large write in parts).
 * When it is gone (the terminal closed, the reader of the pipe exited) the
 * text is dropped: the server goes on, and still stops cleanly when told.
 */
export const STDOUT: Output = {
  terminal: Deno.stdout.isTerminal(),
  write(text) {
    const bytes = encoder.encode(text);
    try {
      for (let at = 0, n = 1; at < bytes.length && n > 0; at += n) {
        n = Deno.stdout.writeSync(bytes.subarray(at));
      }
    } catch {
      // nowhere to write to
    }
  },
};
