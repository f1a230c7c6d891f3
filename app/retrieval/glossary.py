"""Query terms across languages and abbreviations: a Chinese question about an English filing
shares no word with it, and "CEO" shares none with "Chief Executive Officer".

The dense search (multilingual e5) already crosses languages; keyword search, the relevance gate
and the extractive answer read words, so they get the question's terms in English as well. The
glossary covers company and corporate-finance vocabulary (what employees ask of filings, reports
and policies); a term outside it is simply not translated, and dense retrieval still finds the page.
"""

import re
from dataclasses import dataclass

from app.retrieval.dates import MONTH_NAMES, date_mentions
from app.retrieval.text import content_terms, is_mostly_cjk, word_list

# Companies as Chinese writes them -> their English names.
_COMPANIES: dict[str, str] = {
    "苹果": "apple",
    "亚马逊": "amazon",
    "英特尔": "intel",
    "微软": "microsoft",
    "英伟达": "nvidia",
    "辉达": "nvidia",
    "谷歌": "google alphabet",
    "特斯拉": "tesla",
    "脸书": "facebook meta",
}
COMPANY_NAMES = tuple(_COMPANIES)


def english_company_names() -> list[str]:
    """The English words of the companies the glossary knows ("apple", "alphabet")."""
    return [word for names in _COMPANIES.values() for word in names.split()]
# Chinese phrase -> English words. Longer phrases are matched first, so "现金及现金等价物" wins
# over "现金".
CHINESE_TO_ENGLISH: dict[str, str] = {
    **_COMPANIES,
    # their chief executives and finance chiefs, as Chinese press writes them
    "纳德拉": "nadella",
    "库克": "cook",
    "黄仁勋": "jensen huang",
    "基辛格": "gelsinger",
    "贾西": "jassy",
    "胡德": "hood",
    "克雷斯": "kress",
    "津斯纳": "zinsner",
    "奥尔萨夫斯基": "olsavsky",
    "马埃斯特里": "maestri",
    # statements and lines
    "资产负债表": "balance sheet",
    "利润表": "statement of operations income",
    "损益表": "statement of operations income",
    "现金流量表": "statement of cash flows",
    "净销售额": "total net sales",
    "销售额": "net sales",
    "营业收入": "revenue",
    "营收": "revenue",
    "营业额": "revenue",
    "总收入": "total revenue",
    "总销售额": "total net sales",
    "总营收": "total revenue",
    "收入": "revenue",
    "净利润": "net income",
    "净利": "net income",  # "赚了多少净利"
    "纯利润": "net income",
    "纯利": "net income",
    "盈利": "net income",
    "归属于": "attributable to",
    "净收入": "net income",
    "净亏损": "net loss",
    "亏损": "loss",
    "亏了": "net loss",  # "亏了多少钱": how much it lost
    "利润": "income",
    "毛利率": "gross margin percentage",
    "毛利": "gross margin",
    "营业利润": "operating income",
    "营业亏损": "operating income loss",
    "经营利润": "operating income",
    "营业费用": "operating expenses",
    "运营费用": "operating expenses",
    "销售成本": "cost of sales",
    "营业成本": "cost of revenue sales",
    "收入成本": "cost of revenue",
    "现金及现金等价物": "cash and cash equivalents",
    "现金等价物": "cash equivalents",
    "现金": "cash",
    # "有多少现金", "现金有多少": the balance, which filings call cash and cash equivalents
    "多少现金": "cash and cash equivalents",
    "现金有多少": "cash and cash equivalents",
    "有价证券": "marketable securities",
    "存货": "inventories",
    "库存": "inventories",
    "总资产": "total assets",
    "资产": "assets",
    "总负债": "total liabilities",
    "负债总额": "total liabilities",
    "负债合计": "total liabilities",
    "资产总额": "total assets",
    "资产合计": "total assets",
    "负债": "liabilities",
    "股东权益": "stockholders shareholders equity",
    "长期债务": "long-term debt",
    "债务": "debt",
    "应收账款": "accounts receivable",
    "应付账款": "accounts payable",
    "商誉": "goodwill",
    "研发费用": "research and development",
    "研发": "research and development",
    "研究与开发": "research and development",
    "所得税": "income taxes",
    "税前利润": "income before income taxes",
    "税前收入": "income before income taxes",
    "税前": "before income taxes",
    "有效税率": "effective tax rate",
    "税率": "tax rate",
    "综合收益总额": "total comprehensive income",
    "综合收益": "comprehensive income",
    "受限现金": "restricted cash",
    "短期投资": "short-term investments",
    "剩余履约义务": "remaining performance obligations",
    "指引": "guidance",
    "终止费": "termination fee",
    "收购": "acquisition acquire",  # "the acquisition of", "an agreement to acquire"
    "欧盟委员会": "european commission",
    "欧盟": "european union",
    "国家援助": "state aid",
    "可转换票据": "convertible note",
    "二次发行": "secondary offering",
    "所得款项净额": "net proceeds",
    "净所得": "net proceeds",
    "票据": "note notes",
    "可转换": "convertible",
    "转换成股权": "convertible to equity",
    "投资了": "invested",
    "投了": "invested",
    "经营活动": "operating activities",
    "投资活动": "investing activities",
    "筹资活动": "financing activities",
    "融资活动": "financing activities",
    "现金流量净额": "net cash provided by",
    "现金流量": "cash flows",
    "现金流": "cash flows",
    "资本支出": "purchases of property and equipment",
    # the investing line, as each company words it
    "购买物业和设备": "purchases of property and equipment",
    "购置物业和设备": "purchases of property and equipment",
    "新增物业和设备": "additions to property and equipment",
    "购买厂房和设备": "purchases of property plant and equipment",
    "资本开支": "capital expenditures purchases of property and equipment",
    "厂房设备": "property plant and equipment",
    "厂房和设备": "property plant and equipment",
    "不动产和设备": "property and equipment",
    "物业和设备": "property and equipment",
    "每股现金股息": "cash dividends declared per share",
    "每股股息": "dividends per share",
    "股息": "dividends",
    "分红": "dividends",
    "每股收益": "earnings per share",
    "稀释": "diluted",
    "回购": "repurchase",
    "流通股": "shares outstanding",
    "已发行": "outstanding",
    "发行在外": "outstanding",
    "股权": "equity interest",
    "持股": "equity interest held",
    "股票": "stock shares",
    "交易所": "exchange",
    "上市": "listed exchange",
    "注册成立": "incorporated incorporation",
    "注册地": "incorporation",
    "州": "state",
    "地址": "address",
    "股份": "shares",
    "普通股": "common stock",
    "所得税费用": "income tax expense provision for income taxes",
    "所得税准备": "provision for income taxes",
    "所得税收益": "benefit from income taxes",
    "商业票据": "commercial paper",
    "递延收入": "deferred revenue",
    "未实现收入": "unearned revenue",
    "未赚取收入": "unearned revenue",
    "合同负债": "contract liabilities",
    "合同": "contracts",
    "承诺": "commitments",
    "客户": "customer",
    "尚未确认": "not yet recognized",
    "未确认": "not yet recognized unrecognized",
    "没确认": "not yet recognized unrecognized",
    "流动负债": "current liabilities",
    "流动资产": "current assets",
    "短期": "short-term current",
    "长期": "long-term",
    "技术与基础设施": "technology and infrastructure",
    "技术与内容": "technology and content",
    "技术和内容": "technology and content",
    "技术和基础设施": "technology and infrastructure",
    "履约": "fulfillment",
    "一般及行政": "general and administrative",
    "一般和行政": "general and administrative",
    "管理费用": "general and administrative",
    "折旧和摊销": "depreciation and amortization",
    "折旧与摊销": "depreciation and amortization",
    "折旧及摊销": "depreciation and amortization",
    "折旧": "depreciation",
    "摊销": "amortization",
    "重组": "restructuring",
    "其他费用": "other charges",
    "合计": "total",
    "总共": "total",
    "总额": "total",
    "减值": "impairment",
    # notes' vocabulary ("资本化了多少利息", "应计负债", "未确认税收优惠", "存货准备", "新授予的RSU")
    "资本化": "capitalized",
    "应计": "accrued",
    "税收优惠": "tax benefits",
    "存货准备": "inventory provisions",
    "跌价准备": "provisions",
    "授予": "granted",
    "折旧年限": "useful life",
    "使用年限": "useful life",
    "违约": "default",
    "外包": "outsourcing",
    "公司费用": "corporate expenses",
    "纳税年度": "tax years",
    "平均": "average",
    "履约义务": "performance obligations",
    "采购义务": "purchase obligations",
    "义务": "obligations",
    "产能": "capacity",
    "供应": "supply",
    "存货费用": "inventory charge",
    "计提": "charge recorded",
    "客户承诺": "customer commitments",
    "政府补助": "government grants incentives",
    "补助": "grants incentives",
    "补贴": "subsidies incentives",
    "股票薪酬": "stock-based compensation",
    "股权激励": "stock-based compensation",
    "股份支付": "stock-based compensation",
    "无形资产": "intangible assets",
    "经营租赁": "operating leases",
    "融资租赁": "finance leases",
    "租赁": "leases",
    "利息费用": "interest expense",
    "利息收入": "interest income",
    "利息": "interest",
    "其他收入": "other income",
    "公允价值": "fair value",
    "汇率": "foreign currency exchange rates",
    "外汇": "foreign currency exchange",
    "借款": "borrowings",
    "定期债务": "term debt",
    "信贷额度": "credit facility",
    "循环信贷额度": "revolving credit facility",
    "循环信贷": "revolving credit facility",
    "信贷": "credit",
    "营运资本": "working capital",
    "营运资金": "working capital",
    "自由现金流": "free cash flow",
    "积压订单": "backlog",
    "订单积压": "backlog",
    "股利": "dividends",
    "股东": "stockholders shareholders",
    "支付": "payments paid",
    "发放": "paid payment",
    "付款": "payments",
    "付了": "paid payments",
    "付出": "paid payments",  # "付出去多少现金"
    "拆股": "stock split",
    "股票拆分": "stock split",
    "生效": "effective",
    "总检察长": "attorneys general",
    "起诉": "sued lawsuit complaint filed",
    "花了": "spent paid",
    "花费": "spent",
    "费用": "expenses",
    "开支": "expenses",
    "部门": "segment",
    "分部": "segment",
    "事业部": "segment group",
    "同比": "year-over-year from a year ago",
    "增长": "increase growth",
    "上涨": "increase",
    "涨": "increase",
    "上升": "increase",
    "增加": "increase",
    "下降": "decrease decline",
    "下滑": "decrease decline",
    "下跌": "decrease decline",
    "减少": "decrease",
    "百分之": "percent",
    "百分比": "percent",
    "会计师事务所": "accounting firm",
    "审计": "audit",
    "风险因素": "risk factors",
    "法律诉讼": "legal proceedings",
    # legal matters, as people ask of them ("被反垄断机构罚了多少钱", "专利官司法院判赔多少")
    "反垄断": "antitrust competition",
    "罚款": "fine penalty",
    "罚了": "fine penalty",
    "罚金": "fine penalty",
    "专利": "patent",
    "官司": "lawsuit litigation",
    "法院": "court",
    "判决": "judgment verdict",
    "判赔": "damages judgment",
    "赔偿": "damages",
    "赔": "damages",
    "非流动": "non-current",
    "经营现金流": "cash operating activities",
    "经营性现金流": "cash operating activities",
    "加权平均": "weighted-average",
    "股数": "shares",
    "发行成本": "issuance costs",
    "发行": "issuance",
    "订阅用户": "subscribers",
    "月活跃用户": "monthly active users",
    "月活": "monthly active users",
    "活跃用户": "active users",
    "平均售价": "average selling price",
    "售价": "selling price",
    "均价": "average price",
    "订阅": "subscription subscribers",
    # Amazon's net sales by type of offering
    "第三方卖家服务": "third-party seller services",
    "第三方卖家": "third-party seller",
    "卖家服务": "seller services",
    "在线商店": "online stores",
    "线上商店": "online stores",
    "网上商店": "online stores",
    "实体店": "physical stores",
    "实体商店": "physical stores",
    "订阅服务": "subscription services",
    "广告服务": "advertising services",
    "计算与网络": "compute networking",
    "计算和网络": "compute networking",
    "图形": "graphics",
    "员工人数": "employees headcount",
    "员工": "employees",
    "雇员": "employees",
    "裁员": "employees reduction role eliminations",
    "遣散费": "severance costs",
    "遣散": "severance",
    # people and roles
    "首席执行官": "chief executive officer",
    "首席财务官": "chief financial officer",
    "首席会计官": "chief accounting officer",
    "首席运营官": "chief operating officer",
    "首席技术官": "chief technology officer",
    "执行长": "chief executive officer",  # Taiwan's press
    "财务长": "chief financial officer",
    "财务总监": "chief financial officer",
    "总裁": "president",
    "董事长": "chairman",
    "董事": "director",
    "签署": "signed",
    "签字": "signed",  # "是谁签的字"
    "签的字": "signed",
    "签名": "signed signature",
    "签": "signed",  # "哪天签的", "签了"
    # periods
    "季度": "quarter three months",
    "财季": "fiscal quarter three months",  # "第三财季": a fiscal quarter
    "前三财季": "nine months",
    "前九个月": "nine months",
    # the year's first three quarters, to date: not its third ("前三季度" holds "三季度")
    "前三季度": "nine months",
    "前三个季度": "nine months",
    "前两个季度": "six months",
    "前两季度": "six months",
    "九个月": "nine months",
    "前六个月": "six months",
    "六个月": "six months",
    "上半年": "six months",
    "财年": "fiscal year",
    "年度": "year",
    # businesses
    "数据中心": "data center",
    "游戏": "gaming",
    "汽车": "automotive",
    "专业可视化": "professional visualization",
    "云服务": "cloud services",
    "智能云": "intelligent cloud",
    "生产力和业务流程": "productivity and business processes",
    "更多个人计算": "more personal computing",
    "客户端计算": "client computing",
    "网络和边缘": "network and edge",
    "领英": "linkedin",
    "必应": "bing",
    "代工": "foundry",
    "晶圆代工": "foundry",
    "北美": "north america",
    "国际业务": "international",
    "国际分部": "international segment",
    "国际": "international",
    "销售和市场营销": "sales and marketing",
    "市场营销": "marketing",
    "营销": "marketing",
    "广告": "advertising",
    "服务": "services",
    "产品": "products",
    "诉讼": "litigation",
    "出口管制": "export controls",
    "出口": "export",
    "许可": "license licensing",
    "宣布": "announced",
    "宣派": "declared",
    "交易计划": "trading plan arrangement",
    "交易安排": "trading arrangement",
    "采用": "adopted",
    "每股": "per share",
    "宣告": "declared",
    "美国政府": "united states government usg",
    # everyday words for what filings say ("iPhone卖了多少钱", "收入降了多少", "研发支出")
    "卖了": "net sales",
    "卖出": "net sales",
    "销售": "sales",
    "降了": "decrease decline",
    "降低": "decrease",
    "掉了": "decrease decline",
    "卖掉了": "sold",  # sold, not fell
    "卖掉": "sold",
    "跌了": "decrease decline",
    "涨了": "increase",
    "支出": "expenses",
    "成本": "cost costs",
    "余额": "balance",
    "批准": "approved",
    "授权": "authorization authorized",
    "追加": "additional",
    "股权登记日": "record date",
    "登记日": "record date",
    "派发": "paid",
    "少数股权": "minority stake",
    "交付": "deliveries delivered",
    "到期": "maturity due",
    "利率": "interest rate",
    "国税局": "irs",  # not "Internal Revenue Service": its "revenue" would match every sales line
    "税款": "tax taxes",
    "补缴": "additional tax",
    "采购": "purchase",
    "制造": "manufacturing",
    "工厂": "factory",
    "晶圆厂": "fab factory",
    "芯片厂": "fab factory",
    "园区": "campus",
    "网络平台": "networking platform",
    "加速网络": "accelerated networking",
    "平台": "platform",
    "芯片法案": "chips act",
    "芯片": "chips",
    "半导体": "semiconductor",
    "处理器": "processors",
    "笔记本电脑": "notebook",
    "笔记本": "notebook",
    "台式电脑": "desktop",
    "台式机": "desktop",
    "显卡": "gpu graphics",
    "硬件": "hardware",
    "人工智能": "ai artificial intelligence",
    "新冠": "covid-19 pandemic",
    "疫情": "covid-19 pandemic",
    "通货膨胀": "inflation",
    "通胀": "inflation",
    "电动车": "electric vehicle",
    "消费者": "consumer",
    # products, as Chinese speakers name them
    "苹果手机": "apple iphone",
    "手机": "iphone smartphone",
    "平板电脑": "ipad tablet",
    "平板": "ipad tablet",
    "可穿戴设备": "wearables",
    "可穿戴": "wearables",
    "家居": "home",
    "配件": "accessories",
    "服务器": "server",
    "搜索": "search",
    "办公软件": "office",
    "游戏机": "xbox gaming",
    "云": "cloud",
    "设备": "devices equipment",
    # companies bought, invested in or left, as Chinese press names them
    "动视暴雪": "activision blizzard",
    "动视": "activision",
    "纽昂斯": "nuance",
    "高塔半导体": "tower semiconductor",
    "高塔": "tower",
    "里维安": "rivian",
    "全食超市": "whole foods market",
    "全食": "whole foods",
    "安谋": "arm",
    "迈络思": "mellanox",
    "亚马逊云科技": "aws amazon web services",
    "亚马逊网络服务": "amazon web services",
    "亚马逊云": "aws amazon web services",
    "微软云": "microsoft cloud",
    # workplace policies (what staff ask of a company's handbook)
    "带薪年假": "paid annual leave vacation",
    "年假": "annual leave vacation",
    "带薪": "paid",
    "病假": "sick leave",
    "产假": "maternity leave",
    "陪产假": "paternity leave",
    "育儿假": "parental leave",
    "休假": "leave vacation",
    "假期": "leave holidays",
    "节假日": "holidays",
    "加班": "overtime",
    "工资": "salary pay",
    "薪酬": "compensation",
    "奖金": "bonus",
    "福利": "benefits",
    "报销": "reimbursement expenses",
    "差旅": "travel",
    "出差": "business travel",
    "远程办公": "remote work",
    "在家办公": "work from home remote",
    "试用期": "probation period",
    "离职": "resignation termination",
    "入职": "onboarding",
    "考勤": "attendance",
    # regions
    "大中华区": "greater china",
    "中国": "china",
    "香港": "hong kong",
    "台湾": "taiwan",
    "新加坡": "singapore",
    "美国": "united states",
    "美洲": "americas",
    "欧洲": "europe",
    "日本": "japan",
    "韩国": "korea",
    "印度": "india",
    "以色列": "israel",
    "亚太": "asia pacific",
    "爱尔兰": "ireland",
    "德国": "germany",
    "英国": "united kingdom",
    "意大利": "italy italian",
    "法国": "france french",
    "荷兰": "netherlands dutch",
    "俄罗斯": "russia",
    "乌克兰": "ukraine",
    "加拿大": "canada",
    "俄亥俄": "ohio",
    "亚利桑那": "arizona",
    "俄勒冈": "oregon",
    "加利福尼亚": "california",
    "加州": "california",
}
# Abbreviations people type for what documents spell out.
ABBREVIATIONS: dict[str, str] = {
    "ceo": "chief executive officer",
    "cfo": "chief financial officer",
    "cao": "chief accounting officer",
    "coo": "chief operating officer",
    "cto": "chief technology officer",
    "eps": "earnings per share",
    "capex": "purchases of property and equipment",
    "r&d": "research and development",
    "sg&a": "selling general and administrative",
    "pp&e": "property plant and equipment",
    "cogs": "cost of sales",
    "aws": "amazon web services",
    "ytd": "year to date",
}
# Those that name a figure, a role or a period, not a business line ("AWS"): no row is a segment for them.
NOT_LINES = frozenset(ABBREVIATIONS) - {"aws"}


@dataclass(frozen=True)
class PlainPhrase:
    """An everyday phrase for what filings say in their own words."""

    asked: re.Pattern[str]  # the everyday phrase, as a question says it
    formal: str  # the filing's word, added to such a question's terms
    forms: tuple[str, ...]  # the filing's word as content terms (with its past tense)
    everyday: str  # the everyday words that a text holding one of `forms` holds too
    # One word in its forms ("acquire", "acquisition"): a text holding both says it once, and a
    # question asking it in both ways asks it once.
    one_term: bool = False
    # The everyday words mean the formal ones here and nothing more ("make" in "make from"): they are
    # no term of the question's own, and no text holding the formal word holds them ("Did Amazon
    # make any acquisitions?" is not answered by a sentence about sales).
    replaces: bool = False


PLAIN_PHRASES: tuple[PlainPhrase, ...] = (
    PlainPhrase(
        re.compile(r"\b(?:buy(?:ing)?|bought)\s+back\b|\bbuy-?backs?\b", re.IGNORECASE),
        "repurchase",
        ("repurchase", "repurchased", "repurchasing"),
        "buy buying bought back buyback",
    ),
    # "operating cash flow" is the cash flow statement's "Net cash provided by operating activities"
    PlainPhrase(
        re.compile(r"\b(?:operating|investing|financing)\s+cash\s+flows?\b", re.IGNORECASE),
        "activities",
        ("activity",),
        "cash flow",
    ),
    # "income tax expense" is the income statement's "Provision for income taxes"
    PlainPhrase(
        re.compile(r"\b(?:income\s+)?tax(?:es)?\s+expense\b", re.IGNORECASE), "provision", ("provision",), "expense"
    ),
    # a "head office" or "headquarters" is the cover's "Address of principal executive offices"
    # ("executive" left out: signature blocks' "Principal Executive Officer" would outrank it)
    PlainPhrase(
        re.compile(r"\bhead\s*(?:office|quarter)s?\b|\bheadquartered\b", re.IGNORECASE),
        "address of principal offices",
        ("address", "principal"),
        "head office headquarters headquartered",
    ),
    # "Which company did Microsoft finish acquiring?": "we completed our acquisition of Activision"
    PlainPhrase(
        re.compile(r"\bacquir(?:e|es|ed|ing)\b", re.IGNORECASE),
        "acquisition",
        ("acquisition", "acquisitions"),
        "acquire acquires acquired acquiring",
        one_term=True,
    ),
    # "the inventory write-down": "we recognized an inventory impairment of $559 million"
    PlainPhrase(
        re.compile(r"\bwrit(?:e|es|ten|ing)[\s-]+(?:down|off)s?\b|\bwrite-?(?:downs?|offs?)\b", re.IGNORECASE),
        "impairment",
        ("impairment", "impairments"),
        "write down off",
    ),
    # not "the closing price": a deal closed
    PlainPhrase(
        re.compile(
            r"\bfinish(?:es|ed|ing)?\b|\bclos(?:e|es|ed|ing)\s+(?:(?:the|its|their|on)\s+)?(?:acquisition|deal|purchase|merger|transaction)",
            re.IGNORECASE,
        ),
        "completed",
        ("completed", "complete", "completion"),
        "finish finished finishing close closed closing",
        one_term=True,
    ),
    # "How much did Devices revenue decline?": MD&A writes "Devices revenue decreased $323 million"
    PlainPhrase(
        re.compile(
            r"\b(?:declin(?:e|es|ed|ing)|f[ae]ll(?:s|en|ing)?|drop(?:s|ped|ping)?|shr[iau]nk(?:s|ing)?)\b", re.I
        ),
        "decreased",
        ("decreased", "decrease", "decreases"),
        "decline declined fall fell drop dropped shrink shrank",
        one_term=True,
    ),
    PlainPhrase(
        re.compile(r"\b(?:rise|rises|rose|risen|rising|jump(?:s|ed|ing)?|climb(?:s|ed|ing)?)\b", re.I),
        "increased",
        ("increased", "increase", "increases"),
        "rise rose risen jump jumped climb climbed",
        one_term=True,
    ),
    # "How much did Apple make from Services?": the filings' "net sales" or "revenue" of a segment
    PlainPhrase(
        re.compile(
            r"\b(?:make|makes|made|making|earn(?:s|ed|ing)?|bring(?:s|ing)?\s+in|brought\s+in|generat(?:e|es|ed|ing))\b"
            r"(?=.{0,60}\bfrom\b)",
            re.IGNORECASE,
        ),
        "revenue sales",
        ("revenue", "sale"),
        "",
        replaces=True,
    ),
    # Measured and left out: "spend on" as "expense" (capex, buybacks and shipping costs lost to the
    # expense rows) and "owe" / "bonds" as "debt" (a green bond's size lost to total debt).
    # "did microsoft's profit go down?": the filings' "net income" and "operating income"
    PlainPhrase(re.compile(r"(?<!gross )\bprofits?\b", re.I), "income", ("income",), "profit profits"),
    # "revenue from the US": the tables' "United States" ("us" alone is a pronoun, so by its capitals)
    PlainPhrase(
        re.compile(r"(?<![A-Za-z])(?:U\.S\.(?:A\.)?|US|USA)(?![A-Za-z])"),
        "united states",
        ("united", "state"),
        "us usa",
    ),
    # "How much did the strong dollar hurt net sales?": "Changes in foreign currency exchange rates
    # impacted net sales by $(5.0) billion"
    PlainPhrase(
        re.compile(r"\b(?:strong(?:er)?|weak(?:er)?)\s+(?:u\.?s\.?\s+)?dollar\b|\bcurrenc(?:y|ies)\b", re.I),
        "foreign exchange",
        ("foreign", "exchange"),
        "strong stronger weak weaker dollar currency",
    ),
)
# What filings write out in a phrase that people name in two or three words: NVIDIA reports its
# effective tax rate as "income tax as a percentage of income before income tax".
_FORMAL_PHRASES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (
        re.compile(r"\btax(?:es)?\s+as\s+a\s+percentage\s+of\s+income\b", re.IGNORECASE),
        frozenset({"effective", "rate"}),
    ),
)
_PLAIN_TERMS: dict[str, frozenset[str]] = {
    form: frozenset(content_terms(phrase.everyday))
    for phrase in PLAIN_PHRASES
    if phrase.everyday
    for form in phrase.forms
}
_ABBREVIATION_WORD = re.compile(r"[a-z][a-z&]*")
_BY_LENGTH = sorted(CHINESE_TO_ENGLISH, key=len, reverse=True)


def english_phrases(question: str) -> list[str]:
    """The English phrases the question's Chinese vocabulary and abbreviations stand for."""
    phrases: list[str] = []
    rest = question
    for phrase in _BY_LENGTH:
        if phrase in rest:
            phrases.append(CHINESE_TO_ENGLISH[phrase])
            rest = rest.replace(phrase, " ")  # "现金及现金等价物" is not also "现金"
    words = set(_ABBREVIATION_WORD.findall(question.lower()))
    phrases += [spelt for short, spelt in ABBREVIATIONS.items() if short in words]
    phrases += _formal_words(question)
    return phrases


def _formal_words(text: str) -> list[str]:
    """The filings' own words for the everyday ones `text` uses ("decline": "decreased")."""
    return [phrase.formal for phrase in PLAIN_PHRASES if phrase.asked.search(text)]


# "2023年第二季度", "2023年二季度", "2023年Q2", "2022年三季报": a calendar quarter; "2024财年第一季度",
# "2023年第二财季": a fiscal one, whose months vary by company.
_CHINESE_QUARTER = re.compile(
    r"(?:((?:19|20)\d{2})\s*(财年|财政年度|年度|年)?\s*)?"
    r"(?:第\s*([一二三四1-4])\s*(财季|季度|季)|(?<![一二三四十百千万前头两个])([一二三四])\s*(季度|季报)|Q([1-4])(?![0-9]))"
)
# "2023年头三个月", "2023年前3个月": the year's first quarter
_CHINESE_FIRST_THREE_MONTHS = re.compile(r"((?:19|20)\d{2})\s*年\s*的?\s*[头前]\s*[三3]\s*个\s*月")
_CHINESE_FISCAL_YEAR = re.compile(r"((?:19|20)\d{2})\s*(?:财年|财政年度)")
_NUMERAL = {"一": 1, "二": 2, "三": 3, "四": 4}


def _quarter_number(match: re.Match[str]) -> int:
    numeral = match.group(3) or match.group(5) or match.group(7)
    return _NUMERAL.get(numeral) or int(numeral)


# "50亿美元", "3.2亿元", "800万美元": an amount as Chinese counts it (亿 = 10^8, 万 = 10^4)
_CHINESE_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(亿|万)\s*(?:美元|美金|元)?")


def english_amount(number: str, unit: str) -> str:
    """"50", "亿" -> "5.0 billion", "3.5", "亿" -> "350 million": as filings write them."""
    value = float(number) * (1e8 if unit == "亿" else 1e4)
    if value >= 1e9:
        return f"{value / 1e9:.1f} billion"
    return f"{value / 1e6:g} million"


def english_gloss(question: str) -> str:
    """A Chinese question's companies, terms, dates and periods in English words, for the parts of
    retrieval that match words (document metadata, keyword search, the relevance gate); "" when
    the question has none of them."""
    parts = english_phrases(question)
    for mention in date_mentions(question):
        if mention.month is not None and "年" in mention.text:  # "2023年9月30日", "2023年9月"
            day = f" {mention.day}," if mention.day else ""
            parts.append(f"{MONTH_NAMES[mention.month - 1]}{day} {mention.year}")
    for match in _CHINESE_QUARTER.finditer(question):
        year, year_word = match.group(1), match.group(2) or ""
        number = _quarter_number(match)
        fiscal = "财" in year_word or match.group(4) == "财季"
        if year is None:
            parts.append(f"Q{number}")
        else:
            parts.append(f"Q{number} fiscal {year}" if fiscal else f"Q{number} {year}")
    parts += [f"Q1 {year}" for year in _CHINESE_FIRST_THREE_MONTHS.findall(question)]
    parts += [f"fiscal {year}" for year in _CHINESE_FISCAL_YEAR.findall(question)]
    parts += [english_amount(number, unit) for number, unit in _CHINESE_AMOUNT.findall(question)]
    return " ".join(parts)


def glossed(question: str, gloss: str | None = None) -> str:
    """A mostly Chinese question followed by its English gloss (as is otherwise): what the parts that
    read English words (the period and company a question names) parse. `gloss`, if the caller has it."""
    if gloss is None:
        gloss = english_gloss(question) if is_mostly_cjk(question) else ""
    return f"{question} {gloss}" if gloss else question


_ONE_TERM: dict[str, frozenset[str]] = {
    form: frozenset(content_terms(phrase.everyday)) | frozenset(phrase.forms) - {form}
    for phrase in PLAIN_PHRASES
    if phrase.one_term
    for form in phrase.forms[:1]
}


def as_one_term(wanted: frozenset[str], have: set[str]) -> tuple[frozenset[str], set[str]]:
    """A word asked in several forms ("收购": "acquisition acquire") is one term asked, held by a
    text holding any of them, once."""
    for word, forms in _ONE_TERM.items():
        if wanted & forms:  # asked in a form other than the word itself
            wanted = (wanted - forms) | {word}
            have = have | {word} if have & (forms | {word}) else have
    return wanted, have


def spelt_out(terms: set[str]) -> set[str]:
    """The terms with the words of each abbreviation among them, and the everyday words for the
    filing's: a row labelled "AWS" holds "Amazon Web Services" as far as a question's words go
    (and not "service" without it); "repurchased" holds "buying back"."""
    spelt = {t for short in terms & ABBREVIATIONS.keys() for t in content_terms(ABBREVIATIONS[short])}
    plain = {t for formal in terms & _PLAIN_TERMS.keys() for t in _PLAIN_TERMS[formal]}
    return terms | spelt | plain


# Chinese names of a business line or region: a row under that name answers a question naming it,
# where the total's row shares the question's other words ("亚马逊国际分部净销售额": International,
# not Total net sales).
_SEGMENT_NAMES = tuple(
    word_list(
        "数据中心 游戏 汽车 专业可视化 计算与网络 图形 智能云 生产力和业务流程 更多个人计算 客户端计算 网络和边缘 "
        "北美 国际业务 国际 大中华区 美洲 欧洲 日本 亚太 中国 以色列 笔记本 台式机 美国 台湾 印度 韩国 新加坡 香港 "
        "德国 英国 爱尔兰 加拿大 俄罗斯 乌克兰"
    )
)


def _english_name(english: str) -> re.Pattern[str]:
    """A line's English name as a question may write it: "Compute & Networking", "compute and networking"."""
    words = [re.escape(w) for w in english.split() if w != "and"]
    return re.compile(r"\b" + r"\W+(?:(?:and|&)\W+)?".join(words) + r"\b", re.I)


_ENGLISH_SEGMENT_NAMES = {
    english: _english_name(english) for english in dict.fromkeys(CHINESE_TO_ENGLISH[n] for n in _SEGMENT_NAMES)
}


# "美国国税局", "美国政府": a country's authority, not sales in that country
_AUTHORITY = re.compile(r"政府|国税局|税务|联邦|证券|司法部|商务部|监管|法院|海关|国会|出口")


# "美国以外", "除美国外", "outside the US", "non-U.S.": everywhere but the region named
_AFTER_EXCEPT = re.compile(r"以外|之外|外的|外地区|除外")
_BEFORE_EXCEPT = re.compile(
    r"(?:除了?|非)$|(?:\boutside(?:\s+of)?|\bexcluding|\bexcept|\bother\s+than|\bbesides)(?:\s+the)?\s*$|\bnon-?\s*$",
    re.I,
)


def _excepted(question: str, start: int, end: int) -> bool:
    return bool(_AFTER_EXCEPT.match(question, end) or _BEFORE_EXCEPT.search(question[max(0, start - 20) : start]))


def _names_the_region(question: str, name: str) -> bool:
    return any(
        not _AUTHORITY.match(question, m.end()) and not _excepted(question, m.start(), m.end())
        for m in re.finditer(re.escape(name), question)
    )


def named_segments(question: str) -> str:
    """The English names of the business lines and regions a question names: in Chinese ("北美"), or
    in English words ("NVIDIA's professional visualization revenue") where the question is English."""
    if is_mostly_cjk(question):
        return " ".join(CHINESE_TO_ENGLISH[name] for name in _SEGMENT_NAMES if _names_the_region(question, name))
    named = [
        english
        for english, pattern in _ENGLISH_SEGMENT_NAMES.items()
        if any(not _excepted(question, m.start(), m.end()) for m in pattern.finditer(question))
    ]
    return " ".join(name for name in named if not any(name != other and name in other for other in named))


_US = re.compile(r"\b(?:U\.S\.(?:A\.)?|USA?)(?![\w.])")


def excepted_segments(question: str) -> tuple[str, ...]:
    """The English names of the regions and business lines a question asks about all but ("美国以外",
    "outside the US"): their own rows do not answer it."""
    if is_mostly_cjk(question):
        found = (m for name in _SEGMENT_NAMES for m in re.finditer(re.escape(name), question))
        return tuple(dict.fromkeys(CHINESE_TO_ENGLISH[m.group(0)] for m in found if _excepted(question, *m.span())))
    patterns = [*_ENGLISH_SEGMENT_NAMES.items(), ("united states", _US)]
    return tuple(
        dict.fromkeys(
            english
            for english, pattern in patterns
            if any(_excepted(question, m.start(), m.end()) for m in pattern.finditer(question))
        )
    )


def named_by_phrase(text: str) -> set[str]:
    """The everyday terms for what the text says in a filing's longer phrase."""
    return {term for pattern, terms in _FORMAL_PHRASES if pattern.search(text) for term in terms}


def expanded_terms(question: str) -> list[str]:
    """The question's own content terms, then those of its English phrases (no repeats)."""
    own = question
    for plain in PLAIN_PHRASES:
        own = plain.asked.sub(" ", own) if plain.replaces else own
    terms = content_terms(own)
    phrases = english_phrases(question)
    for phrase in phrases:
        terms += content_terms(phrase)
    if is_mostly_cjk(question):
        # The filings' own words for what the English gloss says ("decline": "decreased"), and the
        # quarter as they write it ("Q3 2023")
        terms += [t for formal in _formal_words(" ".join(phrases)) for t in content_terms(formal)]
        terms += [f"q{n}" for n in sorted({_quarter_number(m) for m in _CHINESE_QUARTER.finditer(question)})]
    return list(dict.fromkeys(terms))


# A business line's acronym as a question says it ("DCAI", "CCG", "NEX"): the filing's tables name
# the line in full ("Data Center and AI", "Client Computing", "Network and Edge").
_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z][A-Z&]{1,5}(?![A-Za-z])")
_NOT_INITIALS = frozenset(word_list("and of the for &"))


def acronyms(question: str) -> frozenset[str]:
    return frozenset(_ACRONYM.findall(question))


def spells(acronym: str, label: str) -> bool:
    """Whether a label's initials spell the acronym ("Data Center and AI": DCAI), or all of it but a
    last letter that stands for a word the label leaves out ("Client Computing": CCG, the Group)."""
    letters = acronym.replace("&", "").upper()
    words = [w for w in re.findall(r"[A-Za-z]+", label) if w.lower() not in _NOT_INITIALS]
    initials = "".join(w if w.isupper() else w[0].upper() for w in words)
    return len(words) >= 2 and (initials == letters or (len(letters) >= 3 and initials == letters[:-1]))
