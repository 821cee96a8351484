// The dashboard's words, in Chinese (the default) and English. `t(key, vars)` looks a key up in the chosen language,
// falls back to Chinese, then to the key itself; {name} in a text is replaced by vars.name.

const zh = {
  'app.title': '私域运营看板', 'app.brand': '企业微信运营助手',
  'nav.funnel': '渠道漏斗', 'nav.leads': '线索', 'nav.grades': '分级', 'nav.sequences': '培育序列',
  'nav.campaigns': '群发活动', 'nav.service': '客服', 'nav.queues': '队列',
  'login.title': '登录运营看板', 'login.token': '管理令牌（ADMIN_TOKEN）', 'login.submit': '登录',
  'login.wrong': '令牌不对，请核对 ADMIN_TOKEN。', 'login.note': '令牌只保存在本浏览器的会话中，关闭标签页即失效。',
  logout: '退出', none: '暂无数据', loading: '加载中…', 'error.load': '加载失败：{msg}', 'error.notAvailable': '此功能在当前版本中不可用。',
  'error.http': '请求失败（HTTP {status}）', 'error.network': '连不上机器人，请检查网络后重试',
  save: '保存', cancel: '取消', search: '搜索', reset: '重置', more: '加载更多', all: '全部', open: '打开',
  'period.7': '近 7 天', 'period.30': '近 30 天', 'period.90': '近 90 天', 'period.from': '从', 'period.to': '到', 'period.apply': '查看', 'period.reversed': '开始日期不能晚于结束日期。',
  'funnel.title': '各渠道漏斗', 'funnel.chart': '各渠道在各阶段的线索数', 'funnel.table': '渠道明细',
  'col.channel': '渠道', 'col.added': '新增', 'col.toQualified': '→ 合格', 'col.toCustomer': '→ 成交', 'col.lost': '流失',
  'col.unsubscribed': '退订', 'col.firstResponse': '首次响应（服务时间内，中位）', 'col.cost': '花费', 'col.cpl': '单线索成本',
  'col.name': '客户', 'col.company': '公司', 'col.stage': '阶段', 'col.grade': '等级', 'col.score': '分数', 'col.owner': '负责人',
  'col.lastTouch': '最近互动', 'col.addedAt': '添加时间', 'col.tags': '标签', 'col.step': '步骤', 'col.stepsDone': '已进行步数', 'col.sent': '已发送',
  'col.submitted': '已提交群发', 'col.reminded': '已提醒', 'col.failed': '失败', 'col.unknown': '未知', 'col.skipped': '跳过',
  'col.clicks': '点击', 'col.replies': '回复', 'col.stops': '停止', 'col.when': '时间', 'col.what': '事件', 'col.status': '状态',
  'col.via': '途径', 'col.sequence': '序列', 'col.servicer': '接待人员', 'col.waitingSince': '等待自',
  'col.breaches': '超时', 'col.median': '响应中位数（服务时间内）', 'col.p90': '响应 P90（服务时间内）', 'col.handled': '接待数',
  'col.campaign': '活动', 'col.runAt': '执行时间', 'col.audience': '目标人数', 'col.results': '结果',
  'col.overTarget': '超时', 'col.overTwice': '超时两倍', 'col.waited': '已等待', 'col.target': '目标', 'col.message': '客户消息',
  'col.response': '响应用时', 'col.kind': '类型', 'col.schedule': '计划', 'col.nextRun': '下次执行', 'col.lastRun': '上次执行',
  'col.stageMoves': '阶段推进', 'col.followUp': '跟进统计', 'follow.final': '最终', 'follow.asOf': '截至 {asOf}，最终统计 {finalAt}', 'col.tasks': '群发任务', 'col.customers': '客户数', 'col.reminders': '提醒',
  'service.level.ok': '目标内', 'service.level.over': '已超时', 'service.level.overTwice': '超时两倍',
  'service.kpi.waiting': '正在等待', 'service.kpi.late': '已超时', 'service.kpi.handled': '期间接待', 'service.kpi.median': '首次响应中位数（服务时间内）',
  'service.kpi.breaches': '期间超时', 'service.waitingNote': '共 {total} 位客户在等人工回复（等得最久的在前）。超时按服务时间计算。',
  'service.channels': '各渠道响应', 'service.responseNote': '响应用时只计服务时间（SERVICE_HOURS）内的部分，服务时间外的等待不计：服务时间外来、在服务时间开始前就已回复的消息计为 0 s。', 'service.breaches': '最近的超时回复', 'service.breachesNote': '期间内首次回复超过该客户等级目标的会话，最近的在前。',
  'run.running': '执行中', 'run.waiting': '等待中', 'run.paused': '已暂停', 'run.finished': '已完成', 'run.cancelled': '已取消',
  'run.skipped': '已跳过', 'run.missed': '已错过',
  'campaign.kind.marketing': '营销', 'campaign.kind.service': '服务', 'campaign.draft': '草稿', 'campaign.paused': '已暂停',
  'campaign.status.active': '生效', 'campaign.status.cancelled': '已取消', 'campaign.status.removed': '已删除',
  'campaigns.note': '模板目录和管理接口里的全部群发活动；点开看每次执行的结果。', 'campaigns.back': '← 返回群发活动',
  'campaigns.results': '每次执行的结果', 'campaigns.runs': '执行记录', 'campaigns.owners': '最近一次：各负责人的群发任务',
  'campaigns.runsNote': '回复、点击和阶段推进统计执行后 7 天内的情况（第 1 天和第 7 天各统计一次）。运行中的执行显示截至目前的数字（已发出的任务和提醒都已计入），之后还会增加。',
  'result.sent': '已发送', 'result.confirmed': '已确认', 'result.waitingForOwner': '待负责人确认', 'result.withdrawn': '已撤回', 'result.reminded': '已提醒负责人',
  'result.enrolled': '已加入序列', 'result.deferred': '已顺延', 'result.notAFriend': '非好友', 'result.overCap': '超过上限',
  'result.failed': '失败', 'result.unknown': '未知',
  'kpi.added': '新增线索', 'kpi.qualified': '合格', 'kpi.customer': '成交', 'kpi.lost': '流失',
  'leads.title': '线索', 'leads.q': '姓名、公司、备注或 ID', 'leads.tag': '标签（组/名）', 'leads.owner': '负责人 userid',
  'leads.sort.lastTouch': '按最近互动', 'leads.sort.added': '按添加时间', 'leads.sort.grade': '按等级', 'leads.sort.score': '按分数', 'leads.count': '已显示 {n} 条',
  'lead.back': '← 返回线索', 'lead.profile': '资料', 'lead.score': '评分依据', 'lead.actions': '操作', 'lead.timeline': '时间线',
  'lead.enrollments': '培育', 'lead.deliveries': '发送记录', 'lead.channel': '来源渠道', 'lead.owners': '负责人', 'lead.role': '角色',
  'lead.industry': '行业', 'lead.reached': '到达各阶段',
  'action.stage': '调整阶段', 'action.reason': '原因（必填）', 'action.grade': '等级', 'action.gradeAuto': '自动（按分数）',
  'action.tagsAdd': '加标签（组/名，逗号分隔）', 'action.tagsRemove': '去标签', 'action.pause': '暂停培育', 'action.resume': '恢复培育',
  'action.actor': '操作人 userid', 'action.done': '已保存', 'action.paused': '已暂停', 'action.tags': '标签',
  'grades.title': '客户分级', 'grades.overall': '整体分布', 'grades.perChannel': '各渠道分布', 'grades.waiting': '待跟进的 S/A 线索',
  'grades.waitingNote': '最近一次互动之后还没有人跟进（调整阶段、在客户端编辑、回复客户）的 S、A 级线索。',
  'sequences.title': '培育序列', 'sequences.service': '客户服务序列：线索成为成交客户时加入', 'sequences.caseStudy': '案例（按行业自动选）', 'sequences.enrollments': '进行中 {active}，已完成 {completed}，已停止 {stopped}',
  'sequences.asOf': '统计于 {when}',
  'campaigns.title': '群发活动', 'service.title': '客服', 'service.waiting': '正在等待回复的客户', 'service.servicers': '接待人员响应',
  'queues.title': '队列', 'queues.note': 'Bull Board 展示每个队列的任务：等待、延迟、失败，可重试。', 'queues.open': '打开 Bull Board',
  'stage.added': '新增', 'stage.engaged': '已互动', 'stage.qualified': '合格', 'stage.opportunity': '商机', 'stage.customer': '成交',
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
  'tl.nurture_skipped': '培育步骤跳过', 'tl.grade_upgrade_notice_sent': '已通知负责人升级',
  'tl.churned': '客户删除好友', 'tl.removed_by_owner': '员工删除客户', 'tl.transfer_failed': '客户转接失败',
  'tl.kf_user_recall_msg': '客户撤回消息', 'tl.kf_servicer_recall_msg': '接待人员撤回消息', 'tl.kf_reject_customer_msg_switch_change': '拒收客户消息设置变更',
  'tl.kf_other_event': '微信客服事件',
  'tl.added_half': '添加为好友（员工待通过）', 'tl.profile_failed': '同步资料失败', 'tl.tags_failed': '打渠道标签失败',
  'tl.enroll_skipped': '未加入培育', 'tl.enrollment_owner_changed': '培育负责人变更',
  'tl.kf_arrived': '从微信客服来', 'tl.kf_entered': '进入微信客服会话', 'tl.kf_message': '客户来消息（微信客服）',
  'tl.kf_servicer_replied': '接待人员回复', 'tl.kf_handed_off': '转人工', 'tl.kf_handoff_failed': '转人工失败',
  'tl.kf_send_failed': '微信客服消息未送达', 'tl.kf_session_changed': '客服会话变更', 'tl.kf_clock_alert': '服务时钟超时',
  'tl.kf_clock_closed': '服务时钟结束', 'tl.kf_clock_unassigned': '服务时钟超时，无人可提醒', 'tl.kf_welcome_skipped': '未发客服欢迎语',
  'tl.send': '{what}：{status}', 'tl.send.welcome': '欢迎语', 'tl.send.nurture': '培育消息', 'tl.send.campaign': '群发活动消息', 'tl.send.mass': '负责人的群发任务',
  'tl.send.kf_reply': '客服自动回复', 'tl.send.kf_welcome': '客服欢迎语', 'tl.send.kf_clock_notice': '服务时钟超时提醒',
  'tl.send.kf_intent_notice': '客户意向通知', 'tl.send.grade_upgrade_notice': '升级通知',
  'status.withdrawn': '已撤回', 'status.expired': '已过期', 'status.pending': '发送中',
  'role.decision-maker': '决策者', 'role.manager': '管理者', 'role.user': '使用者',
  'via.welcome': '欢迎语', 'via.kf': '微信客服', 'via.mass': '负责人群发', 'via.owner': '提醒负责人发送',
};

const en = {
  'app.title': 'Ops dashboard', 'app.brand': 'WeCom ops bot',
  'nav.funnel': 'Funnel', 'nav.leads': 'Leads', 'nav.grades': 'Grades', 'nav.sequences': 'Sequences',
  'nav.campaigns': 'Campaigns', 'nav.service': 'Service', 'nav.queues': 'Queues',
  'login.title': 'Sign in to the dashboard', 'login.token': 'Admin token (ADMIN_TOKEN)', 'login.submit': 'Sign in',
  'login.wrong': 'That token is wrong: check ADMIN_TOKEN.', 'login.note': 'The token stays in this browser tab\'s session and is gone when you close it.',
  logout: 'Sign out', none: 'Nothing yet', loading: 'Loading…', 'error.load': 'Could not load: {msg}', 'error.notAvailable': 'Not available in this version.',
  'error.http': 'HTTP {status}', 'error.network': 'Could not reach the bot; check the network and try again',
  save: 'Save', cancel: 'Cancel', search: 'Search', reset: 'Reset', more: 'Load more', all: 'All', open: 'Open',
  'period.7': 'Last 7 days', 'period.30': 'Last 30 days', 'period.90': 'Last 90 days', 'period.from': 'From', 'period.to': 'to', 'period.apply': 'Show', 'period.reversed': 'The start date must not be after the end date.',
  'funnel.title': 'Funnel per channel', 'funnel.chart': 'Leads per stage, per channel', 'funnel.table': 'Channels',
  'col.channel': 'Channel', 'col.added': 'Added', 'col.toQualified': '→ qualified', 'col.toCustomer': '→ customer', 'col.lost': 'Lost',
  'col.unsubscribed': 'Unsubscribed', 'col.firstResponse': 'First response (in service hours, median)', 'col.cost': 'Cost', 'col.cpl': 'Cost per lead',
  'col.name': 'Customer', 'col.company': 'Company', 'col.stage': 'Stage', 'col.grade': 'Grade', 'col.score': 'Score', 'col.owner': 'Owner',
  'col.lastTouch': 'Last touch', 'col.addedAt': 'Added', 'col.tags': 'Tags', 'col.step': 'Step', 'col.stepsDone': 'Steps done', 'col.sent': 'Sent',
  'col.submitted': 'Mass tasks', 'col.reminded': 'Reminded', 'col.failed': 'Failed', 'col.unknown': 'Unknown', 'col.skipped': 'Skipped',
  'col.clicks': 'Clicks', 'col.replies': 'Replies', 'col.stops': 'Stops', 'col.when': 'When', 'col.what': 'What', 'col.status': 'Status',
  'col.via': 'Via', 'col.sequence': 'Sequence', 'col.servicer': 'Servicer', 'col.waitingSince': 'Waiting since',
  'col.breaches': 'Breaches', 'col.median': 'Median response (in service hours)', 'col.p90': 'P90 response (in service hours)', 'col.handled': 'Handled',
  'col.campaign': 'Campaign', 'col.runAt': 'Runs at', 'col.audience': 'Audience', 'col.results': 'Results',
  'col.overTarget': 'Over target', 'col.overTwice': 'Over twice', 'col.waited': 'Waited', 'col.target': 'Target', 'col.message': 'Message',
  'col.response': 'Response', 'col.kind': 'Kind', 'col.schedule': 'Schedule', 'col.nextRun': 'Next run', 'col.lastRun': 'Last run',
  'col.stageMoves': 'Stage moves', 'col.followUp': 'Follow-up', 'follow.final': 'final', 'follow.asOf': 'as of {asOf}, final count {finalAt}', 'col.tasks': 'Tasks', 'col.customers': 'Customers', 'col.reminders': 'Reminders',
  'service.level.ok': 'Within target', 'service.level.over': 'Over target', 'service.level.overTwice': 'Over twice',
  'service.kpi.waiting': 'Waiting now', 'service.kpi.late': 'Late now', 'service.kpi.handled': 'Handled', 'service.kpi.median': 'Median first response (in service hours)',
  'service.kpi.breaches': 'Breaches', 'service.waitingNote': '{total} customers wait for a person (the longest waiting first). Targets count service hours.',
  'service.channels': 'Per channel', 'service.responseNote': 'Response times count only the time within service hours (SERVICE_HOURS), not the waiting outside them: a message that came in outside them and was answered before they began counts as 0 s.', 'service.breaches': 'Latest late answers', 'service.breachesNote': 'Conversations of the period whose first answer came past the target of the customer\'s grade, the latest first.',
  'run.running': 'Running', 'run.waiting': 'Waiting', 'run.paused': 'Paused', 'run.finished': 'Finished', 'run.cancelled': 'Cancelled',
  'run.skipped': 'Skipped', 'run.missed': 'Missed',
  'campaign.kind.marketing': 'Marketing', 'campaign.kind.service': 'Service', 'campaign.draft': 'Draft', 'campaign.paused': 'Paused',
  'campaign.status.active': 'Active', 'campaign.status.cancelled': 'Cancelled', 'campaign.status.removed': 'Removed',
  'campaigns.note': 'Every campaign, from the templates folder and the admin API; open one for its runs.', 'campaigns.back': '← Back to campaigns',
  'campaigns.results': 'Results per run', 'campaigns.runs': 'Runs', 'campaigns.owners': 'Latest run: mass-message tasks per owner',
  'campaigns.runsNote': 'Replies, clicks and stage moves count the 7 days after a run (counted a day after and at 7 days). A run still under way shows its counts so far (every task and reminder sent is in them); they grow until it ends.',
  'result.sent': 'Sent', 'result.confirmed': 'Confirmed', 'result.waitingForOwner': 'Waiting for owner', 'result.withdrawn': 'Withdrawn', 'result.reminded': 'Owner reminded',
  'result.enrolled': 'Enrolled', 'result.deferred': 'Deferred', 'result.notAFriend': 'Not a friend', 'result.overCap': 'Over the cap',
  'result.failed': 'Failed', 'result.unknown': 'Unknown',
  'kpi.added': 'Leads added', 'kpi.qualified': 'Qualified', 'kpi.customer': 'Customers', 'kpi.lost': 'Lost',
  'leads.title': 'Leads', 'leads.q': 'Name, company, remark or id', 'leads.tag': 'Tag (group/name)', 'leads.owner': 'Owner userid',
  'leads.sort.lastTouch': 'Last touch', 'leads.sort.added': 'Added', 'leads.sort.grade': 'Grade', 'leads.sort.score': 'Score', 'leads.count': '{n} shown',
  'lead.back': '← Back to leads', 'lead.profile': 'Profile', 'lead.score': 'Why this score', 'lead.actions': 'Actions', 'lead.timeline': 'Timeline',
  'lead.enrollments': 'Nurture', 'lead.deliveries': 'Deliveries', 'lead.channel': 'Channel', 'lead.owners': 'Owners', 'lead.role': 'Role',
  'lead.industry': 'Industry', 'lead.reached': 'Reached',
  'action.stage': 'Move stage', 'action.reason': 'Reason (required)', 'action.grade': 'Grade', 'action.gradeAuto': 'Automatic (by score)',
  'action.tagsAdd': 'Add tags (group/name, comma-separated)', 'action.tagsRemove': 'Remove tags', 'action.pause': 'Pause nurture', 'action.resume': 'Resume nurture',
  'action.actor': 'Your userid', 'action.done': 'Saved', 'action.paused': 'Paused', 'action.tags': 'Tags',
  'grades.title': 'Grades', 'grades.overall': 'Overall', 'grades.perChannel': 'Per channel', 'grades.waiting': 'S/A leads waiting for follow-up',
  'grades.waitingNote': 'S and A leads nobody followed up (moved their stage, edited them in the client, answered them) since their latest touch.',
  'sequences.title': 'Sequences', 'sequences.service': 'Service sequence: leads enter it when they become customers', 'sequences.caseStudy': 'Case study (picked by industry)', 'sequences.enrollments': '{active} active, {completed} completed, {stopped} stopped',
  'sequences.asOf': 'As of {when}',
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
  'tl.nurture_skipped': 'Nurture step skipped', 'tl.grade_upgrade_notice_sent': 'Owner told of the upgrade',
  'tl.churned': 'Customer removed us', 'tl.removed_by_owner': 'Member removed the customer', 'tl.transfer_failed': 'Customer transfer failed',
  'tl.kf_user_recall_msg': 'Customer recalled a message', 'tl.kf_servicer_recall_msg': 'Servicer recalled a message', 'tl.kf_reject_customer_msg_switch_change': 'Customer blocking changed',
  'tl.kf_other_event': '微信客服 event',
  'tl.added_half': 'Added us (member yet to confirm)', 'tl.profile_failed': 'Profile sync failed', 'tl.tags_failed': 'Channel tags failed',
  'tl.enroll_skipped': 'Not enrolled', 'tl.enrollment_owner_changed': 'Nurture owner changed',
  'tl.kf_arrived': 'Came through 微信客服', 'tl.kf_entered': 'Entered a 微信客服 session', 'tl.kf_message': 'Customer wrote (微信客服)',
  'tl.kf_servicer_replied': 'Servicer replied', 'tl.kf_handed_off': 'Handed to a person', 'tl.kf_handoff_failed': 'Hand-off failed',
  'tl.kf_send_failed': '微信客服 message not delivered', 'tl.kf_session_changed': 'Service session changed', 'tl.kf_clock_alert': 'Service clock late',
  'tl.kf_clock_closed': 'Service clock closed', 'tl.kf_clock_unassigned': 'Service clock late, nobody to tell', 'tl.kf_welcome_skipped': 'No 客服 welcome',
  'tl.send': '{what}: {status}', 'tl.send.welcome': 'Welcome', 'tl.send.nurture': 'Nurture message', 'tl.send.campaign': 'Campaign message', 'tl.send.mass': 'Owner\'s mass message',
  'tl.send.kf_reply': '客服 auto-reply', 'tl.send.kf_welcome': '客服 welcome', 'tl.send.kf_clock_notice': 'Service clock notice',
  'tl.send.kf_intent_notice': 'Intent notice', 'tl.send.grade_upgrade_notice': 'Upgrade notice',
  'status.withdrawn': 'Withdrawn', 'status.expired': 'Expired', 'status.pending': 'Sending',
  'role.decision-maker': 'decision-maker', 'role.manager': 'manager', 'role.user': 'user',
  'via.welcome': 'welcome', 'via.kf': '微信客服', 'via.mass': 'owner\'s mass message', 'via.owner': 'owner reminded',
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

/**
 * A timeline entry's type in words: its own text, or, for what was sent and what became of it (`<what>_<status>`:
 * campaign_sent, mass_capped, kf_reply_failed, kf_clock_notice_sent, ...), both in words; a type the dashboard does
 * not know yet as it is.
 */
export function timelineLabel(type) {
  if (known(`tl.${type}`)) return t(`tl.${type}`);
  const send = /^(.+)_([a-z]+)$/.exec(type);
  if (send && known(`tl.send.${send[1]}`) && known(`status.${send[2]}`)) return t('tl.send', { what: t(`tl.send.${send[1]}`), status: t(`status.${send[2]}`) });
  return type;
}

/** How a message went out (welcome, kf, mass, owner) in the chosen language; another as it is. */
export const viaLabel = (via) => (known(`via.${via}`) ? t(`via.${via}`) : via);

/** A lead's role (decision-maker, manager, user) in the chosen language; another as it is. */
export const roleLabel = (role) => (known(`role.${role}`) ? t(`role.${role}`) : role);

/** A `{zh, en}` label the API gives (a score reason, why an enrollment stopped) in the chosen language. */
export const labelOf = (label, fallback = '') => (label ? (label[lang()] ?? label.en) : fallback);
