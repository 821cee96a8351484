import mongoose, { Schema } from 'mongoose';

const commandAuditSchema = new Schema(
  {
    /** The robot message's msgid: one entry per command, however often WeCom delivers it. */
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    /** The group chat, or null in a single chat with the robot. */
    chatId: { type: String, default: null },
    chatType: { type: String, required: true },
    /** What was typed (after the @mention). */
    text: { type: String, default: '' },
    /** The command's name (English), or null when no command was recognised. */
    command: { type: String, default: null },
    lang: { type: String, required: true },
    /** ok | refused | unknown_command | invalid_args | not_found | ambiguous | rejected | failed */
    outcome: { type: String, required: true },
    /** The answer (clipped), or what went wrong. */
    detail: { type: String, default: null },
    /** Answered through response_url rather than in the passive reply. */
    later: { type: Boolean, default: false },
    at: { type: Date, required: true },
    ms: { type: Number, default: null },
  },
  { versionKey: false },
);
commandAuditSchema.index({ at: -1 });

/** Every chat command: who, in which chat, what they typed, and how it ended (written once, when it ended). */
export const CommandAudit = mongoose.model('CommandAudit', commandAuditSchema, 'command_audit');
