/** Sandbox WeCom: a local stand-in for the WeCom API used by tests, benchmarks and `npm run dev`. */
export { startSandbox, createSandboxApp, type Sandbox, type SandboxOptions } from './server.js';
export { SandboxState, type SandboxStateOptions } from './state.js';
export type { CallRecord, SandboxCallbackTarget, SandboxFault } from './core.js';
export type { AddCustomerOptions, ExternalContact, FollowUser, ScanResult } from './areas/contacts.js';
export type { CorpTag, CorpTagGroup, FollowUserTag } from './areas/tags.js';
export type { WelcomeCodeGrant, WelcomeSent } from './areas/welcome.js';
export type { ContactWay } from './areas/contact-ways.js';
export { WECOM_MEMBER_MESSAGE_LIMITS, type AppMessageDropped, type AppMessageSent, type MemberMessageLimit } from './areas/app-messages.js';
export type { GroupMsg, GroupMsgTarget } from './areas/mass-messages.js';
export type { KfAccountOptions, KfMessageSent, KfSession } from './areas/kf-model.js';
export type { WebhookMessage } from './areas/webhook.js';
export { SANDBOX_GROUP_CHAT, type RobotExchange, type RobotResponse, type RobotSay } from './areas/robot.js';
export { buildContactEventXml, buildKfEventXml, type ContactChangeType, type ContactEvent } from './callback-xml.js';
export { SandboxApiError, errmsgFor } from './errcodes.js';
