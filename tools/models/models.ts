/**
 * `npm run models -- list | pull <name>[@version] | pull --all | verify`: the model catalog
 * (built-in manifests plus MODELS_DIR's) against the weights on this machine.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '@fathom/config';
import { defaultCacheDir, loadCatalog, ModelCatalogError } from '@fathom/models';
import { loadModelsCliConfig } from './models.config';
import { listModels, pullModels, verifyModels, type CommandContext } from './models-commands';

const USAGE = `Usage: npm run models -- <command>

Commands:
  list                    every model version and variant: task, weights source, file, status
  pull <name>[@version]   download a model's weights (each version and variant with a URL source),
                          refused unless the manifest's sha256 matches; an interrupted one resumes
  pull --all              download every model with a URL source
  verify                  check the weights on disk: sha256 against the manifest, and that each
                          file is an ONNX model (not a Git LFS pointer or an HTML page)

Environment:
  MODELS_DIR              a folder of *.model.yaml|yml|json manifests, besides the built-in ones
  MODELS_CACHE_DIR        where downloaded weights go (default $XDG_CACHE_HOME/fathom/models,
                          else ~/.cache/fathom/models)
  WORKER_BUILTIN_MODELS   include the built-in manifests (default true; false, 0 or no: leave them out)`;

/** Exit status for a command line the tool does not understand. */
const USAGE_ERROR = 2;

function usageError(problem: string): number {
  console.error(`models: ${problem}\n\n${USAGE}`);
  return USAGE_ERROR;
}

async function main(argv: string[]): Promise<number> {
  let args: { values: { help?: boolean; all?: boolean }; positionals: string[] };
  try {
    args = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, all: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = args;
  const [command, ...operands] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) return usageError('no command given');
  if (!['list', 'pull', 'verify'].includes(command)) return usageError(`unknown command "${command}"`);
  if (values.all && command !== 'pull') return usageError('--all goes with pull');
  if (command === 'pull') {
    if (values.all ? operands.length > 0 : operands.length !== 1)
      return usageError('pull takes one model (name or name@version), or --all');
  } else if (operands.length > 0) {
    return usageError(`${command} takes no arguments (got ${operands.join(' ')})`);
  }

  const env = loadModelsCliConfig();
  const ctx: CommandContext = {
    catalog: loadCatalog({ builtin: env.WORKER_BUILTIN_MODELS, modelsDir: env.MODELS_DIR, cacheDir: defaultCacheDir(env) }),
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  };
  if (command === 'list') return listModels(ctx);
  if (command === 'verify') return verifyModels(ctx);
  return pullModels(ctx, { ref: operands[0], all: values.all });
}

// exitCode, not exit(): stdout and stderr are flushed before the process ends.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A bad environment or manifest is the user's to fix: the message, not a stack trace.
    console.error(error instanceof ConfigError || error instanceof ModelCatalogError ? error.message : error);
    process.exitCode = 1;
  },
);
