// The app: Capstan's stack, checked by cdk-nag's AWS Solutions pack. bin/capstan.ts runs it for
// `cdk synth` / `cdk deploy`; the tests build it the same way (with bundling skipped).
//
// Context: `stackName` (default capstan, as samconfig.toml's stack_name);
// `capstan:acknowledgeFindings=false` leaves out the stack's cdk-nag acknowledgements
// (lib/nag.ts), to see every finding as an error; `capstan:bundle=false` skips building the
// functions (CDK's aws:cdk:bundling-stacks=[], which the CLI does not let `-c` set): a quick
// synth whose assets are the unbuilt sources, for looking at the template, never for a deploy.
import { App, AppProps, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks, INagLogger } from 'cdk-nag';
import { CapstanStack } from './capstan-stack';

export interface CapstanApp {
  app: App;
  stack: CapstanStack;
}

export interface BuildOptions {
  /** Run cdk-nag's AwsSolutionsChecks (default true). */
  readonly nag?: boolean;
  /** More cdk-nag loggers (the tests record what was acknowledged). */
  readonly nagLoggers?: INagLogger[];
}

export function buildApp(props: AppProps = {}, options: BuildOptions = {}): CapstanApp {
  const app = new App({ analyticsReporting: false, ...props });
  if (String(app.node.tryGetContext('capstan:bundle') ?? 'true') === 'false') {
    app.node.setContext('aws:cdk:bundling-stacks', []);
  }
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'capstan';
  const acknowledge = String(app.node.tryGetContext('capstan:acknowledgeFindings') ?? 'true') !== 'false';
  const stack = new CapstanStack(app, 'Capstan', {
    stackName,
    acknowledgeFindings: acknowledge,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  if (options.nag ?? true) {
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, additionalLoggers: options.nagLoggers }));
  }
  return { app, stack };
}
