// The app: Capstan's stack, checked by cdk-nag's AWS Solutions pack. bin/capstan.ts runs it for
// `cdk synth` / `cdk deploy`; the tests build it the same way (with bundling skipped).
import { App, AppProps, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CapstanStack } from './capstan-stack';

export interface CapstanApp {
  app: App;
  stack: CapstanStack;
}

export function buildApp(props: AppProps = {}, options: { nag?: boolean } = {}): CapstanApp {
  const app = new App({ analyticsReporting: false, ...props });
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'capstan';
  const stack = new CapstanStack(app, 'Capstan', {
    stackName,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  if (options.nag ?? true) {
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  }
  return { app, stack };
}
