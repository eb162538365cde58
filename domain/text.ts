/**
 * Free text a person writes (a note, a reason, a dispute note): what makes it
 * unfit to keep and show (README, "Inputs and headers"). Tabs and new lines
 * are text; other C0 control characters and DEL are not (a NUL pasted from a
 * terminal, an escape sequence that recolours the next reader's terminal), and
 * neither is half of a surrogate pair.
 */

// deno-lint-ignore no-control-regex -- finding them is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Why `text` is not plain text (null: it is), in words that say how to fix it. */
export function plainTextProblem(text: string): string | null {
  const control = CONTROL.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return `contains the control character U+${code} at ${control.index}: remove it ` +
      "(tabs and new lines are fine)";
  }
  if (!text.isWellFormed()) {
    return "is not well-formed Unicode (half of a surrogate pair): send the text as UTF-8";
  }
  return null;
}
