import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit code for a command line that cannot be understood (sysexits EX_USAGE). */
export const EX_USAGE = 64;

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h' } };

/**
 * Reads a command's arguments (strict: every option must be declared). `--help` / `-h` prints `usage` and exits 0;
 * an unknown option, a missing value or an unexpected argument is one line on stderr and exit EX_USAGE, never a
 * stack trace.
 */
export function readCommandLine<O extends Options, P extends boolean = false>(
  command: string,
  usage: string,
  options: O,
  allowPositionals?: P,
  args: string[] = process.argv.slice(2),
) {
  const config = {
    args,
    options: { ...options, help: { type: 'boolean', short: 'h' } } as WithHelp<O>,
    allowPositionals: (allowPositionals ?? false) as P,
    strict: true as const,
  };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code?.startsWith('ERR_PARSE_ARGS')) throw err;
    // Node's message goes on with advice about '--'; its first sentence says what is wrong.
    console.error(`${command}: ${e.message.split(/\.\s/)[0]!.replace(/\.$/, '')} (see ${command} -- --help)`);
    process.exit(EX_USAGE);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage.trim());
    process.exit(0);
  }
  return parsed;
}
