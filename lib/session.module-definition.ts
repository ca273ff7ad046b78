import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SessionPolicy } from './session-policy.js';

export const {
  ConfigurableModuleClass: ConfigurableSessionModule,
  MODULE_OPTIONS_TOKEN: SESSION_POLICY_OPTIONS,
  OPTIONS_TYPE: SESSION_MODULE_OPTIONS,
  ASYNC_OPTIONS_TYPE: SESSION_MODULE_ASYNC_OPTIONS,
} = new ConfigurableModuleBuilder<SessionPolicy>({ moduleName: 'Session' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createSessionPolicy')
  .setExtras({}, (definition) => ({ ...definition, global: true }))
  .build();

/** A class for `SessionModule.forRootAsync({ useClass })`. */
export interface SessionPolicyFactory {
  createSessionPolicy(): SessionPolicy | Promise<SessionPolicy>;
}
