/** Sandbox WeCom: a local stand-in for the WeCom API used by tests, benchmarks and `npm run dev`. */
export { startSandbox, createSandboxApp, type Sandbox, type SandboxOptions } from './server.js';
export {
  SandboxState,
  type AddCustomerOptions,
  type AppMessageSent,
  type CallRecord,
  type ContactWay,
  type CorpTag,
  type CorpTagGroup,
  type ExternalContact,
  type FollowUser,
  type FollowUserTag,
  type GroupMsg,
  type GroupMsgTarget,
  type KfMessageSent,
  type SandboxCallbackTarget,
  type SandboxFault,
  type SandboxStateOptions,
  type ScanResult,
  type WelcomeCodeGrant,
  type WelcomeSent,
} from './state.js';
export { buildContactEventXml, type ContactChangeType, type ContactEvent } from './callback-xml.js';
export { SandboxApiError, errmsgFor } from './errcodes.js';
