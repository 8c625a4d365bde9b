// The fallback chain: the first rule whose match covers a request supplies an ordered list of
// steps; each step serves the request or declines, and the last resort is the protocol's own
// `fail`. The chain knows nothing of protocols: a protocol folder supplies the context type,
// the matcher and the steps (static, fail), and shared stores (cache, spool) plug in as steps.

/** Why the dependency was not used. */
export type FallbackReason = 'open' | 'half_open_full' | 'forced_open' | 'bulkhead' | 'failed';

export interface FallbackStep<Ctx> {
  readonly kind: string;
  /** true when it answered the request; false to let the next step try. */
  serve(ctx: Ctx): boolean | Promise<boolean>;
}

export interface FallbackRule<Ctx> {
  matches(ctx: Ctx): boolean;
  readonly steps: readonly FallbackStep<Ctx>[];
}

export class FallbackChain<Ctx> {
  constructor(
    private readonly rules: readonly FallbackRule<Ctx>[],
    /** Always answers: the protocol's fail-fast reply. */
    private readonly last: FallbackStep<Ctx>,
    private readonly served: (kind: string, ctx: Ctx) => void,
  ) {}

  /** Serves ctx with the first step that accepts; resolves to the kind that answered. */
  serve(ctx: Ctx): string | Promise<string> {
    const rule = this.rules.find((r) => r.matches(ctx));
    const steps = rule?.steps ?? [];
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const r = step.serve(ctx);
      if (r === true) return this.done(step.kind, ctx);
      if (r !== false) return this.continueAsync(r, steps, i, ctx);
    }
    return this.finish(ctx);
  }

  private async continueAsync(pending: Promise<boolean>, steps: readonly FallbackStep<Ctx>[], i: number, ctx: Ctx): Promise<string> {
    if (await pending) return this.done(steps[i]!.kind, ctx);
    for (let j = i + 1; j < steps.length; j++) {
      if (await steps[j]!.serve(ctx)) return this.done(steps[j]!.kind, ctx);
    }
    return this.finish(ctx);
  }

  private finish(ctx: Ctx): string | Promise<string> {
    const r = this.last.serve(ctx);
    if (r === true || r === false) return this.done(this.last.kind, ctx);
    return r.then(() => this.done(this.last.kind, ctx));
  }

  private done(kind: string, ctx: Ctx): string {
    this.served(kind, ctx);
    return kind;
  }
}
