// Fixed settings and the labels the console shows for the API's codes.

export var PAGE_SIZE = 50;

export var CHARS_PER_SECOND = 3;          // how fast a synthesised voice reads Chinese, roughly

export var BEIJING_MS = 8 * 3600 * 1000;   // the console shows and takes times in Beijing time (UTC+8)

export var STASH_PREFIX = "frontdoor.console.unsaved.";

export var EXPIRED_MESSAGE = "登录已过期，请重新登录";

export var ROLE_LABEL = { editor: "编辑", reviewer: "审核员", seat: "坐席", admin: "管理员" };

export var STATUS_LABEL = { draft: "草稿", in_review: "审核中", published: "已发布", retired: "已停用",
                     scheduled: "已排期", withdrawn: "已撤回", has_draft: "有未发布修改", open: "待处理",
                     resolved: "已处理", dismissed: "已忽略" };

export var KIND_LABEL = { create: "新建", edit: "修改", retire: "停用" };

export var DECISION_LABEL = { answer: "直接答复", clarify: "追问确认", handoff: "转人工", redirect: "转紧急电话",
                       refuse: "不予答复" };

export var CHANNEL_LABEL = { chat: "在线", voice: "电话", wechat: "微信" };

export var REQUEST_TYPES = ["咨询", "求助", "投诉", "举报", "建议"];

export var FIELD_LABEL = { id: "条目编号", question: "标准问题", samples: "相似问法", chat_answer: "文字答复",
                    answer: "文字答复", voice_answer: "语音答复", category: "分类", request_type: "诉求类型",
                    region: "适用地区", variant_of: "替代的上级条目", effective_from: "生效时间",
                    expires_at: "失效时间", status: "状态", source: "来源" };

export var ACTION_LABEL = { "account.create": "开通账号", "account.update": "修改账号", "account.token": "生成令牌",
                     "auth.login": "登录", "auth.logout": "退出", "change.create": "新建修改单",
                     "change.save": "保存草稿", "change.submit": "提交审核", "change.return": "退回修改",
                     "change.withdraw": "撤回", "change.publish": "发布", "change.schedule": "定时发布",
                     "entry.rollback": "回滚", "import.create": "批量导入", "gap.new_entry": "由问题新建条目",
                     "gap.add_samples": "加入相似问法", "gap.dismiss": "忽略问题", "codes.import": "导入分类代码",
                     "ticket.label": "标注工单" };
// What an entry JSON may hold (knowledge_base/io.py); anything else the API refuses.

export var ENTRY_KEYS = ["id", "question", "answer", "chat_answer", "samples", "category", "voice_answer", "request_type",
                  "region", "variant_of", "effective_from", "expires_at", "status", "version", "updated_by",
                  "updated_at", "source"];

export var KNOWN_REGIONS = ["江苏省", "江苏省/南京市", "江苏省/扬州市"];

export var NAV = [
  { route: "entries", label: "条目", roles: ["editor", "reviewer", "seat", "admin"] },
  { route: "changes", label: "修改单", roles: ["editor", "reviewer"] },
  { route: "review", label: "审核发布", roles: ["reviewer"] },
  { route: "gaps", label: "未解答问题", roles: ["editor", "reviewer"] },
  { route: "alerts", label: "热点预警", roles: ["editor", "reviewer"] },
  { route: "import", label: "批量导入", roles: ["editor"] },
  { route: "audit", label: "操作记录", roles: ["reviewer", "admin"] },
  { route: "accounts", label: "账号管理", roles: ["admin"] }
];

export var HOME = { editor: "entries", reviewer: "review", seat: "entries", admin: "accounts" };
