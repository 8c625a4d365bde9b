// Commands by class and outcome (never by key or command name: bounded cardinality). Counted
// in a flat array on the data path, read at scrape time.
import { COMMAND_CLASSES, COMMANDS, UNKNOWN_COMMAND, type CommandInfo } from './commands.js';

export type CommandOutcome = 'success' | 'failure' | 'ignored' | 'fallback';
export const COMMAND_OUTCOMES: readonly CommandOutcome[] = ['success', 'failure', 'ignored', 'fallback'];
const OUTCOME_INDEX: Record<CommandOutcome, number> = { success: 0, failure: 1, ignored: 2, fallback: 3 };
const CLASS_INDEX = new Map<string, number>(COMMAND_CLASSES.map((c, i) => [c, i]));
/** Cell offset of each command's class, by command id: no lookup by name on the data path. */
const CLASS_CELL = new Uint16Array(UNKNOWN_COMMAND.id + 1);
for (const info of [...COMMANDS, UNKNOWN_COMMAND]) CLASS_CELL[info.id] = CLASS_INDEX.get(info.klass)! * COMMAND_OUTCOMES.length;

export class CommandCounters {
  private readonly cells = new Float64Array(COMMAND_CLASSES.length * COMMAND_OUTCOMES.length);

  count(info: CommandInfo, outcome: CommandOutcome): void {
    this.cells[CLASS_CELL[info.id]! + OUTCOME_INDEX[outcome]]!++;
  }

  samples(): { klass: string; outcome: CommandOutcome; value: number }[] {
    const out: { klass: string; outcome: CommandOutcome; value: number }[] = [];
    COMMAND_CLASSES.forEach((klass, i) =>
      COMMAND_OUTCOMES.forEach((outcome, j) => out.push({ klass, outcome, value: this.cells[i * COMMAND_OUTCOMES.length + j]! })),
    );
    return out;
  }
}
