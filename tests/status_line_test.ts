import assert from "node:assert/strict";
import { type Output, StatusLine } from "../cli/status_line.ts";

function recorder(terminal: boolean): Output & { text: () => string } {
  const parts: string[] = [];
  return { terminal, write: (t) => void parts.push(t), text: () => parts.join("") };
}

/** What a terminal shows for `raw`: `\r` goes back to the line's start, `ESC[K` clears the rest. */
function screenOf(raw: string): string[] {
  const lines = [""];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const row = lines.length - 1;
    if (raw[i] === "\r") col = 0;
    else if (raw[i] === "\n") {
      lines.push("");
      col = 0;
    } else if (raw.startsWith("\x1b[K", i)) {
      lines[row] = lines[row].slice(0, col);
      i += 2;
    } else {
      lines[row] = lines[row].slice(0, col) + raw[i] + lines[row].slice(col + 1);
      col++;
    }
  }
  return lines;
}

Deno.test("on a terminal, log lines print above the progress line and never into it", () => {
  const out = recorder(true);
  const screen = new StatusLine(out);
  screen.show("seeding the demo account: 1/30 customers");
  screen.show("seeding the demo account: 30/30 customers");
  screen.line("01:38:12 INF dispute recorded dispute_id=dsp_1");
  screen.line("01:38:13 INF dispute recorded dispute_id=dsp_2");
  screen.show("seeding the demo account: disputes");
  screen.end("seeded the demo account: 31 customers");
  screen.line("  Demo admin created\n    token  pot_x");
  assert.deepEqual(screenOf(out.text()), [
    "01:38:12 INF dispute recorded dispute_id=dsp_1",
    "01:38:13 INF dispute recorded dispute_id=dsp_2",
    "seeded the demo account: 31 customers",
    "  Demo admin created",
    "    token  pot_x",
    "",
  ]);
});

Deno.test("a log line while no status line is shown is an ordinary line", () => {
  const out = recorder(true);
  const screen = new StatusLine(out);
  screen.line("a");
  screen.show("working");
  screen.end("done");
  screen.line("b");
  assert.equal(out.text(), "a\n\rworking\x1b[K\rdone\x1b[K\nb\n");
  assert.deepEqual(screenOf(out.text()), ["a", "done", "b", ""]);
});

Deno.test("off a terminal there is no status line: no redraws, the end is a line", () => {
  const out = recorder(false);
  const screen = new StatusLine(out);
  screen.line("seeding the demo account through the emulator...");
  screen.show("seeding the demo account: 3/30 customers");
  screen.line('{"level":"info","msg":"dispute recorded"}');
  screen.end("seeded the demo account: 31 customers");
  assert.equal(
    out.text(),
    "seeding the demo account through the emulator...\n" +
      '{"level":"info","msg":"dispute recorded"}\n' +
      "seeded the demo account: 31 customers\n",
  );
  assert.ok(!out.text().includes("\r") && !out.text().includes("\x1b"));
});
