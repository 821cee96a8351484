import mongoose, { Schema } from 'mongoose';

const corpTagSchema = new Schema({
  group: { type: String, required: true },
  name: { type: String, required: true },
  tagId: { type: String, required: true },
  groupId: { type: String, required: true },
});
corpTagSchema.index({ group: 1, name: 1 }, { unique: true });

/** Cache of corp tag ids by (group name, tag name): mark_tag takes ids, templates speak names [D:92117]. */
export const CorpTag = mongoose.model('CorpTag', corpTagSchema, 'corp_tags');
