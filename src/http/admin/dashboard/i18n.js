// The dashboard's words, in Chinese (the default) and English. `t(key, vars)` looks a key up in the chosen language,
// falls back to Chinese, then to the key itself; {name} in a text is replaced by vars.name.

const zh = {
  'app.title': '私域运营看板',
  'nav.funnel': '渠道漏斗', 'nav.leads': '线索', 'nav.grades': '分级', 'nav.sequences': '培育序列',
  'nav.campaigns': '群发活动', 'nav.service': '客服', 'nav.queues': '队列',
  'login.title': '登录运营看板', 'login.token': '管理令牌（ADMIN_TOKEN）', 'login.submit': '登录',
  'login.wrong': '令牌不对，请核对 ADMIN_TOKEN。', 'login.note': '令牌只保存在本浏览器的会话中，关闭标签页即失效。',
  logout: '退出', none: '暂无数据', loading: '加载中…', 'error.load': '加载失败：{msg}', 'error.notAvailable': '此功能在当前版本中不可用。',
  save: '保存', cancel: '取消', search: '搜索', reset: '重置', more: '加载更多', all: '全部', open: '打开',
  'period.7': '近 7 天', 'period.30': '近 30 天', 'period.90': '近 90 天', 'period.from': '从', 'period.to': '到', 'period.apply': '查看',
  'funnel.title': '各渠道漏斗', 'funnel.chart': '各渠道在各阶段的线索数', 'funnel.table': '渠道明细',
  'col.channel': '渠道', 'col.added': '新增', 'col.toQualified': '→ 合格', 'col.toCustomer': '→ 成交', 'col.lost': '流失',
  'col.unsubscribed': '退订', 'col.firstResponse': '首次响应（中位）', 'col.cost': '花费', 'col.cpl': '单线索成本',
  'col.name': '客户', 'col.company': '公司', 'col.stage': '阶段', 'col.grade': '等级', 'col.score': '分数', 'col.owner': '负责人',
  'col.lastTouch': '最近互动', 'col.addedAt': '添加时间', 'col.tags': '标签', 'col.step': '步骤', 'col.stepsDone': '已进行步数', 'col.sent': '已发送',
  'col.submitted': '待确认', 'col.reminded': '已提醒', 'col.failed': '失败', 'col.unknown': '未知', 'col.skipped': '跳过',
  'col.clicks': '点击', 'col.replies': '回复', 'col.stops': '停止', 'col.when': '时间', 'col.what': '事件', 'col.status': '状态',
  'col.via': '途径', 'col.sequence': '序列', 'col.servicer': '接待人员', 'col.waitingSince': '等待自',
  'col.breaches': '超时', 'col.median': '响应中位数', 'col.p90': '响应 P90', 'col.handled': '接待数',
  'col.campaign': '活动', 'col.runAt': '执行时间', 'col.audience': '目标人数', 'col.results': '结果',
  'kpi.added': '新增线索', 'kpi.qualified': '合格', 'kpi.customer': '成交', 'kpi.lost': '流失',
  'leads.title': '线索', 'leads.q': '姓名、公司、备注或 ID', 'leads.tag': '标签（组/名）', 'leads.owner': '负责人 userid',
  'leads.sort.lastTouch': '按最近互动', 'leads.sort.added': '按添加时间', 'leads.sort.score': '按分数', 'leads.count': '已显示 {n} 条',
  'lead.back': '← 返回线索', 'lead.profile': '资料', 'lead.score': '评分依据', 'lead.actions': '操作', 'lead.timeline': '时间线',
  'lead.enrollments': '培育', 'lead.deliveries': '发送记录', 'lead.channel': '来源渠道', 'lead.owners': '负责人', 'lead.role': '角色',
  'lead.industry': '行业', 'lead.reached': '到达各阶段',
  'action.stage': '调整阶段', 'action.reason': '原因（必填）', 'action.grade': '等级', 'action.gradeAuto': '自动（按分数）',
  'action.tagsAdd': '加标签（组/名，逗号分隔）', 'action.tagsRemove': '去标签', 'action.pause': '暂停培育', 'action.resume': '恢复培育',
  'action.actor': '操作人 userid', 'action.done': '已保存', 'action.paused': '已暂停', 'action.tags': '标签',
  'grades.title': '客户分级', 'grades.overall': '整体分布', 'grades.perChannel': '各渠道分布', 'grades.waiting': '待跟进的 S/A 线索',
  'grades.waitingNote': '最近一次互动之后还没有人跟进（调整阶段、在客户端编辑、回复客户）的 S、A 级线索。',
  'sequences.title': '培育序列', 'sequences.caseStudy': '案例（按行业自动选）', 'sequences.enrollments': '进行中 {active}，已完成 {completed}，已停止 {stopped}',
  'campaigns.title': '群发活动', 'service.title': '客服', 'service.waiting': '正在等待回复的客户', 'service.servicers': '接待人员响应',
  'queues.title': '队列', 'queues.note': 'Bull Board 展示每个队列的任务：等待、延迟、失败，可重试。', 'queues.open': '打开 Bull Board',
  'stage.added': '已添加', 'stage.engaged': '已互动', 'stage.qualified': '合格', 'stage.opportunity': '商机', 'stage.customer': '成交',
  'stage.lost': '流失', 'stage.unsubscribed': '退订',
  'status.active': '进行中', 'status.completed': '已完成', 'status.stopped': '已停止', 'status.sent': '已发送', 'status.failed': '失败',
  'status.unknown': '未知', 'status.submitted': '待确认', 'status.reminded': '已提醒', 'status.skipped': '跳过', 'status.capped': '超限',
  'status.unconfirmed': '未确认', 'status.sending': '发送中', 'status.scheduled': '已计划', 'status.running': '执行中',
  'status.done': '已完成', 'status.cancelled': '已取消',
  'tl.added': '添加为好友', 'tl.profile_synced': '同步资料', 'tl.tags_marked': '打上渠道标签', 'tl.tags_changed': '标签变更',
  'tl.welcome_sent': '发送欢迎语', 'tl.welcome_skipped': '未发欢迎语', 'tl.welcome_failed': '欢迎语失败', 'tl.enrolled': '加入培育',
  'tl.enrollment_stopped': '培育停止', 'tl.stage_changed': '阶段变更', 'tl.grade_pinned': '手动定级', 'tl.grade_unpinned': '恢复自动定级',
  'tl.link_clicked': '打开链接', 'tl.paused': '暂停', 'tl.resumed': '恢复', 'tl.nurture_sent': '培育消息已发送',
  'tl.nurture_submitted': '培育群发待确认', 'tl.nurture_reminded': '提醒负责人发送', 'tl.nurture_failed': '培育消息失败',
  'tl.nurture_skipped': '培育步骤跳过', 'tl.grade_upgrade_notice_sent': '已通知负责人升级', 'tl.customer_message': '客户来消息',
  'tl.reply_sent': '自动回复', 'tl.deleted_by_customer': '客户删除好友', 'tl.deleted_by_member': '员工删除客户',
};

const en = {
  'app.title': 'Ops dashboard',
  'nav.funnel': 'Funnel', 'nav.leads': 'Leads', 'nav.grades': 'Grades', 'nav.sequences': 'Sequences',
  'nav.campaigns': 'Campaigns', 'nav.service': 'Service', 'nav.queues': 'Queues',
  'login.title': 'Sign in to the dashboard', 'login.token': 'Admin token (ADMIN_TOKEN)', 'login.submit': 'Sign in',
  'login.wrong': 'That token is wrong: check ADMIN_TOKEN.', 'login.note': 'The token stays in this browser tab\'s session and is gone when you close it.',
  logout: 'Sign out', none: 'Nothing yet', loading: 'Loading…', 'error.load': 'Could not load: {msg}', 'error.notAvailable': 'Not available in this version.',
  save: 'Save', cancel: 'Cancel', search: 'Search', reset: 'Reset', more: 'Load more', all: 'All', open: 'Open',
  'period.7': 'Last 7 days', 'period.30': 'Last 30 days', 'period.90': 'Last 90 days', 'period.from': 'From', 'period.to': 'to', 'period.apply': 'Show',
  'funnel.title': 'Funnel per channel', 'funnel.chart': 'Leads per stage, per channel', 'funnel.table': 'Channels',
  'col.channel': 'Channel', 'col.added': 'Added', 'col.toQualified': '→ qualified', 'col.toCustomer': '→ customer', 'col.lost': 'Lost',
  'col.unsubscribed': 'Unsubscribed', 'col.firstResponse': 'First response (median)', 'col.cost': 'Cost', 'col.cpl': 'Cost per lead',
  'col.name': 'Customer', 'col.company': 'Company', 'col.stage': 'Stage', 'col.grade': 'Grade', 'col.score': 'Score', 'col.owner': 'Owner',
  'col.lastTouch': 'Last touch', 'col.addedAt': 'Added', 'col.tags': 'Tags', 'col.step': 'Step', 'col.stepsDone': 'Steps done', 'col.sent': 'Sent',
  'col.submitted': 'Awaiting confirm', 'col.reminded': 'Reminded', 'col.failed': 'Failed', 'col.unknown': 'Unknown', 'col.skipped': 'Skipped',
  'col.clicks': 'Clicks', 'col.replies': 'Replies', 'col.stops': 'Stops', 'col.when': 'When', 'col.what': 'What', 'col.status': 'Status',
  'col.via': 'Via', 'col.sequence': 'Sequence', 'col.servicer': 'Servicer', 'col.waitingSince': 'Waiting since',
  'col.breaches': 'Breaches', 'col.median': 'Median response', 'col.p90': 'P90 response', 'col.handled': 'Handled',
  'col.campaign': 'Campaign', 'col.runAt': 'Runs at', 'col.audience': 'Audience', 'col.results': 'Results',
  'kpi.added': 'Leads added', 'kpi.qualified': 'Qualified', 'kpi.customer': 'Customers', 'kpi.lost': 'Lost',
  'leads.title': 'Leads', 'leads.q': 'Name, company, remark or id', 'leads.tag': 'Tag (group/name)', 'leads.owner': 'Owner userid',
  'leads.sort.lastTouch': 'Last touch', 'leads.sort.added': 'Added', 'leads.sort.score': 'Score', 'leads.count': '{n} shown',
  'lead.back': '← Back to leads', 'lead.profile': 'Profile', 'lead.score': 'Why this score', 'lead.actions': 'Actions', 'lead.timeline': 'Timeline',
  'lead.enrollments': 'Nurture', 'lead.deliveries': 'Deliveries', 'lead.channel': 'Channel', 'lead.owners': 'Owners', 'lead.role': 'Role',
  'lead.industry': 'Industry', 'lead.reached': 'Reached',
  'action.stage': 'Move stage', 'action.reason': 'Reason (required)', 'action.grade': 'Grade', 'action.gradeAuto': 'Automatic (by score)',
  'action.tagsAdd': 'Add tags (group/name, comma-separated)', 'action.tagsRemove': 'Remove tags', 'action.pause': 'Pause nurture', 'action.resume': 'Resume nurture',
  'action.actor': 'Your userid', 'action.done': 'Saved', 'action.paused': 'Paused', 'action.tags': 'Tags',
  'grades.title': 'Grades', 'grades.overall': 'Overall', 'grades.perChannel': 'Per channel', 'grades.waiting': 'S/A leads waiting for follow-up',
  'grades.waitingNote': 'S and A leads nobody followed up (moved their stage, edited them in the client, answered them) since their latest touch.',
  'sequences.title': 'Sequences', 'sequences.caseStudy': 'Case study (picked by industry)', 'sequences.enrollments': '{active} active, {completed} completed, {stopped} stopped',
  'campaigns.title': 'Campaigns', 'service.title': 'Service', 'service.waiting': 'Customers waiting for an answer', 'service.servicers': 'Servicers',
  'queues.title': 'Queues', 'queues.note': 'Bull Board shows every queue\'s jobs: waiting, delayed, failed, with retry.', 'queues.open': 'Open Bull Board',
  'stage.added': 'Added', 'stage.engaged': 'Engaged', 'stage.qualified': 'Qualified', 'stage.opportunity': 'Opportunity', 'stage.customer': 'Customer',
  'stage.lost': 'Lost', 'stage.unsubscribed': 'Unsubscribed',
  'status.active': 'Active', 'status.completed': 'Completed', 'status.stopped': 'Stopped', 'status.sent': 'Sent', 'status.failed': 'Failed',
  'status.unknown': 'Unknown', 'status.submitted': 'Awaiting confirm', 'status.reminded': 'Reminded', 'status.skipped': 'Skipped', 'status.capped': 'Capped',
  'status.unconfirmed': 'Unconfirmed', 'status.sending': 'Sending', 'status.scheduled': 'Scheduled', 'status.running': 'Running',
  'status.done': 'Done', 'status.cancelled': 'Cancelled',
  'tl.added': 'Added us', 'tl.profile_synced': 'Profile synced', 'tl.tags_marked': 'Channel tags marked', 'tl.tags_changed': 'Tags changed',
  'tl.welcome_sent': 'Welcome sent', 'tl.welcome_skipped': 'No welcome', 'tl.welcome_failed': 'Welcome failed', 'tl.enrolled': 'Enrolled',
  'tl.enrollment_stopped': 'Nurture stopped', 'tl.stage_changed': 'Stage moved', 'tl.grade_pinned': 'Grade pinned', 'tl.grade_unpinned': 'Grade automatic again',
  'tl.link_clicked': 'Opened a link', 'tl.paused': 'Paused', 'tl.resumed': 'Resumed', 'tl.nurture_sent': 'Nurture message sent',
  'tl.nurture_submitted': 'Nurture mass message awaiting confirm', 'tl.nurture_reminded': 'Owner reminded to send', 'tl.nurture_failed': 'Nurture message failed',
  'tl.nurture_skipped': 'Nurture step skipped', 'tl.grade_upgrade_notice_sent': 'Owner told of the upgrade', 'tl.customer_message': 'Customer wrote',
  'tl.reply_sent': 'Replied', 'tl.deleted_by_customer': 'Customer removed us', 'tl.deleted_by_member': 'Member removed the customer',
};

const DICTS = { zh, en };
const KEY = 'dashboard.lang';

/** The chosen language: what was picked last time, else Chinese. */
export function lang() {
  return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
}

export function setLang(l) {
  localStorage.setItem(KEY, l === 'en' ? 'en' : 'zh');
  document.documentElement.lang = l === 'en' ? 'en' : 'zh-CN';
}

/** A text in the chosen language. */
export function t(key, vars = {}) {
  const text = DICTS[lang()][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? `{${k}}`));
}

/** Whether a key has a text (timeline types the dashboard does not know yet show as they are). */
export const known = (key) => key in zh;
