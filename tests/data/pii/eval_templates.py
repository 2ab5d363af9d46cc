"""Sentence templates for the independent PII evaluation: one bank for tuning, a different one held out.

Modelled on how real texts phrase identifiers (contact pages, sign-up forms, chats, notices, logs,
news) in Simplified Chinese (zh-Hans), Traditional Chinese (zh-Hant, Taiwan usage), Cantonese
(yue, Hong Kong usage) and English. ``{v}`` is where the value goes. The two banks share no
template. Phrases are written as such texts write them, not from yuliao's context-word lists; the
bench reports recall separately for records whose value has one of the detector's context words
within its window and for those without.
"""

from __future__ import annotations

T = tuple[str, str, str]  # (lang, register, template)

TUNE: dict[str, list[T]] = {
    "ID_CARD": [
        ("zh-Hans", "form", "姓名：王建国　性别：男　公民身份号码：{v}　民族：汉"),
        ("zh-Hans", "notice", "现将拟录用人员名单公示如下：刘芳，身份证号{v}，公示期五个工作日。"),
        ("zh-Hans", "chat", "我的身份证是{v}，你帮我填一下报名表"),
        ("zh-Hans", "court", "被告人张某某，男，汉族，公民身份号码{v}，初中文化。"),
        ("zh-Hant", "form", "申請人國民身分證統一編號欄如為大陸居民，請填寫居民身份證號碼：{v}"),
        ("yue", "chat", "佢大陸身份證號碼係{v}，你幫手check下啱唔啱"),
        ("en", "form", "Mainland China Resident Identity Card No.: {v}"),
        ("zh-Hans", "notice", "失物招领：本人不慎遗失身份证一张，号码{v}，声明作废。"),
    ],
    "PHONE": [
        ("zh-Hans", "contact", "联系电话：{v}（工作日 9:00-17:30）"),
        ("zh-Hans", "notice", "报名咨询请拨打{v}，联系人：陈老师。"),
        ("zh-Hans", "chat", "有事打我手机{v}"),
        ("zh-Hant", "contact", "客服專線：{v}（週一至週五 09:00-18:00）"),
        ("zh-Hant", "notice", "如有疑問，請洽{v}分機 205 王小姐。"),
        ("yue", "chat", "得閒打俾我啦 {v}"),
        ("yue", "contact", "訂座熱線：{v}"),
        ("en", "contact", "For enquiries, please call {v} during office hours."),
        ("en", "chat", "text me at {v} when you land"),
        ("en", "contact", "Tel: {v} | Fax: available on request"),
        ("zh-Hans", "ad", "招聘店员数名，有意者请联系{v}王经理"),
        ("yue", "notice", "查詢：{v}（辦公時間）"),
    ],
    "EMAIL": [
        ("zh-Hans", "contact", "简历请投递至{v}，邮件标题注明应聘岗位。"),
        ("zh-Hant", "contact", "來信請寄：{v}"),
        ("yue", "chat", "你send去{v}就得"),
        ("en", "contact", "Questions? Drop us a line at {v}."),
        ("en", "form", "E-mail address: {v}"),
        ("zh-Hans", "notice", "投稿邮箱：{v}"),
    ],
    "BANK_CARD": [
        ("zh-Hans", "chat", "钱转到我卡上，{v}，工商银行"),
        ("zh-Hans", "form", "收款账户：{v}　开户行：中国建设银行深圳分行"),
        ("zh-Hant", "form", "退款帳號：{v}"),
        ("yue", "chat", "過數去呢個戶口 {v} 唔該"),
        ("en", "form", "Card number {v}, expiry 08/27"),
        ("zh-Hans", "notice", "请将报名费汇至以下账号：{v}（户名：某某培训中心）"),
    ],
    "USCC": [
        ("zh-Hans", "notice", "中标单位：某某建设工程有限公司（统一社会信用代码：{v}）"),
        ("zh-Hans", "form", "纳税人识别号：{v}"),
        ("zh-Hant", "notice", "統一社會信用代碼{v}之企業已完成登記。"),
        ("en", "form", "Unified Social Credit Code: {v}"),
        ("zh-Hans", "contract", "乙方：某科技有限公司，信用代码{v}，地址：杭州市西湖区"),
    ],
    "HK_ID": [
        ("yue", "form", "香港身份證號碼：{v}"),
        ("zh-Hant", "form", "申請人身份證號碼 {v}"),
        ("en", "form", "HKID Card No. {v}"),
        ("yue", "chat", "我身份證係 {v}，你同我填埋"),
        ("en", "notice", "Please bring the identity card ({v}) used at registration."),
    ],
    "IP": [
        ("en", "log", "Failed password for root from {v} port 52144 ssh2"),
        ("zh-Hans", "notice", "异地登录提醒：您的账号于今日在{v}登录"),
        ("zh-Hans", "chat", "服务器地址是{v}，账号密码私发你"),
        ("en", "log", "client {v} requested /index.html"),
        ("zh-Hant", "notice", "登入來源位址：{v}"),
    ],
    "PASSPORT": [
        ("zh-Hans", "form", "护照号码：{v}"),
        ("en", "form", "Passport No.: {v}"),
        ("zh-Hant", "form", "護照號碼 {v}"),
        ("zh-Hans", "notice", "往来港澳通行证号码{v}"),
    ],
    "MO_ID": [
        ("zh-Hant", "form", "澳門居民身份證編號：{v}"),
        ("en", "form", "Macao Resident Identity Card No. {v}"),
        ("yue", "chat", "我澳門身份證號碼係{v}"),
    ],
    "PLATE": [
        ("zh-Hans", "notice", "一辆车牌号为{v}的白色轿车停放在消防通道。"),
        ("zh-Hans", "chat", "我车是{v}，停在B2"),
        ("zh-Hans", "notice", "肇事车辆：{v}，已被依法扣留。"),
    ],
}

HELDOUT: dict[str, list[T]] = {
    "ID_CARD": [
        ("zh-Hans", "form", "证件类型：居民身份证　证件号码：{v}"),
        ("zh-Hans", "notice", "兹证明{v}（姓名：李娜）系我单位在职职工。"),
        ("zh-Hans", "chat", "报名要填证件号，我的是 {v} 你帮我核对下"),
        ("zh-Hans", "news", "警方通报：犯罪嫌疑人周某，{v}，现已归案。"),
        ("zh-Hans", "form", "乘机人：陈伟 | 证件：{v} | 航班：CZ3101"),
        ("zh-Hant", "notice", "受益人：林美華，中國大陸居民身分證 {v}。"),
        ("yue", "chat", "幫我訂車飛，證件號碼 {v}，名叫黃志明"),
        ("en", "form", "Name: Zhou Min; Chinese ID: {v}; Nationality: PRC"),
        ("en", "chat", "my id num is {v} can u book the train tickets"),
        ("zh-Hans", "notice", "中奖名单：张*明 {v} 一等奖"),
    ],
    "PHONE": [
        ("zh-Hans", "contact", "地址：广州市天河区体育西路 103 号　电话：{v}"),
        ("zh-Hans", "notice", "有意者请于本周五前与刘先生联系，{v}。"),
        ("zh-Hans", "chat", "到了给我打电话哈 {v}"),
        ("zh-Hans", "ad", "房东直租，看房{v}（微信同号）"),
        ("zh-Hant", "contact", "門市資訊｜營業時間 11:00-21:00｜訂位 {v}"),
        ("zh-Hant", "chat", "我的手機是{v}，有事再聯絡"),
        ("yue", "chat", "call 我 {v} 啦，唔好send message"),
        ("yue", "contact", "預約請WhatsApp {v}"),
        ("yue", "notice", "如有任何查詢，歡迎致電 {v} 與本會職員聯絡。"),
        ("en", "contact", "Reservations {v} or book online."),
        ("en", "contact", "T {v} | Mon-Sat 10am-7pm"),
        ("en", "chat", "my number's {v}, ring me tonight"),
        ("en", "notice", "Hotline: {v} (24 hours)"),
        ("yue", "ad", "搵工：餐廳請楼面，有意請電{v}陳生"),
    ],
    "EMAIL": [
        ("zh-Hans", "contact", "商务合作：{v}"),
        ("zh-Hans", "chat", "你把文件发我邮箱吧 {v}"),
        ("zh-Hant", "notice", "報名表請於截止日前電郵至{v}，逾期恕不受理。"),
        ("yue", "contact", "有咩問題可以 email 我哋：{v}"),
        ("en", "contact", "Contact: {v}"),
        ("en", "notice", "Send your CV to {v} by 30 June."),
    ],
    "BANK_CARD": [
        ("zh-Hans", "chat", "打我农行卡里吧 {v} 户名张伟"),
        ("zh-Hans", "form", "银行账号：{v}"),
        ("zh-Hans", "notice", "学费请转账至{v}，转账时备注学生姓名。"),
        ("zh-Hant", "chat", "匯到我的卡 {v}，謝謝"),
        ("yue", "chat", "入數去 {v}，入完send張單俾我"),
        ("en", "form", "Pay to account {v} (China Merchants Bank)"),
    ],
    "USCC": [
        ("zh-Hans", "notice", "供应商名称：某某商贸有限公司；统一信用代码：{v}。"),
        ("zh-Hans", "form", "单位名称：某市第一人民医院　税号：{v}"),
        ("zh-Hans", "notice", "经核查，{v}（某某餐饮管理有限公司）存在违法行为。"),
        ("en", "form", "Company registration (USCC) {v}"),
        ("zh-Hant", "form", "大陸公司統一社會信用代碼：{v}"),
    ],
    "HK_ID": [
        ("yue", "form", "身份證號碼（只需填頭四個字母及數字亦可）：{v}"),
        ("zh-Hant", "notice", "持有香港身份證 {v} 之人士請到櫃檯辦理。"),
        ("yue", "chat", "我張身份證號碼係 {v} 呀"),
        ("en", "form", "Hong Kong Identity Card number: {v}"),
        ("en", "form", "Applicant: CHAN Tai Man, HKIC {v}"),
    ],
    "IP": [
        ("en", "log", "sshd[2114]: Accepted publickey for deploy from {v} port 50022"),
        ("en", "log", "{v} - - [05/Nov/2023:10:12:01 +0800] \"GET / HTTP/1.1\" 200 512"),
        ("zh-Hans", "notice", "登录地点：广东深圳　登录IP：{v}"),
        ("zh-Hans", "chat", "你ping一下{v}看通不通"),
        ("zh-Hant", "chat", "連線到 {v} 失敗"),
        ("en", "chat", "the NAS is at {v}, same as before"),
    ],
    "PASSPORT": [
        ("zh-Hans", "form", "证件类型：护照　证件号：{v}"),
        ("en", "form", "Travel document: passport {v}"),
        ("zh-Hant", "notice", "旅客護照 {v} 已完成登記"),
        ("zh-Hans", "chat", "港澳通行证号是{v}，帮我办签注"),
    ],
    "MO_ID": [
        ("zh-Hant", "form", "證件：澳門居民身份證 {v}"),
        ("en", "form", "Macau BIR No. {v}"),
        ("zh-Hant", "notice", "申請人澳門身份證號碼 {v}"),
    ],
    "PLATE": [
        ("zh-Hans", "notice", "以下车辆逾期未年检：{v}。"),
        ("zh-Hans", "chat", "{v}那辆白车是你的吗"),
        ("zh-Hans", "news", "交警查获一辆号牌为{v}的重型货车"),
    ],
}

# Look-alikes: none of these values is PII. Keys are look-alike kinds (eval_values.la_*).
LOOKALIKE_TUNE: dict[str, list[T]] = {
    "version": [
        ("zh-Hans", "notice", "升级到{v}版本后，应用闪退的问题已修复。"),
        ("en", "log", "build {v} (release)"),
        ("en", "notice", "Firmware v{v} is now available."),
        ("zh-Hant", "notice", "目前版本：{v}"),
    ],
    "section": [
        ("zh-Hans", "notice", "依据标准第{v}条的规定"),
        ("en", "notice", "See section {v} for details."),
        ("zh-Hant", "notice", "詳見第 {v} 節"),
    ],
    "order": [
        ("zh-Hans", "chat", "订单号 {v} 一直没发货"),
        ("en", "chat", "Order #{v} has shipped."),
        ("zh-Hant", "notice", "交易序號：{v}"),
    ],
    "id_bad_check": [("zh-Hans", "form", "身份证号：{v}"), ("en", "form", "ID no. {v}")],
    "id_bad_date": [("zh-Hans", "form", "公民身份号码 {v}")],
    "card_bad_luhn": [("zh-Hans", "form", "卡号：{v}"), ("en", "form", "card {v}")],
    "uscc_bad": [("zh-Hans", "form", "统一社会信用代码：{v}")],
    "hkid_bad": [("yue", "form", "身份證號碼：{v}")],
    "isbn": [("zh-Hans", "notice", "书号：{v}"), ("en", "notice", "ISBN {v}")],
    "timestamp": [("en", "log", "ts={v} level=info"), ("zh-Hans", "notice", "提交时间：{v}")],
    "amount": [("zh-Hans", "news", "成交价{v}"), ("yue", "news", "呎價約{v}"), ("en", "news", "valued at {v}")],
    "coordinate": [("zh-Hans", "notice", "坐标：{v}"), ("en", "log", "lat,lon = {v}")],
    "phone_bad": [("zh-Hans", "contact", "电话：{v}"), ("en", "contact", "Tel {v}")],
    "tracking": [("zh-Hans", "chat", "快递单号 {v}"), ("en", "chat", "tracking {v}")],
    "stock": [("zh-Hans", "news", "股票代码{v}")],
    "invoice": [("zh-Hans", "form", "发票号码：{v}")],
}

LOOKALIKE_HELDOUT: dict[str, list[T]] = {
    "version": [
        ("zh-Hans", "chat", "我手机系统是{v}，要不要更新"),
        ("en", "notice", "Fixed in version {v}."),
        ("zh-Hans", "notice", "本次更新（{v}版）主要优化了性能"),
        ("en", "log", "Starting server (build {v})"),
        ("zh-Hant", "notice", "請先更新至 v{v} 再試"),
        ("zh-Hans", "notice", "固件{v}已推送"),
    ],
    "section": [
        ("zh-Hans", "notice", "按照规范{v}款执行"),
        ("en", "notice", "as required by clause {v}"),
        ("zh-Hans", "notice", "第{v}节 安全要求"),
        ("zh-Hant", "notice", "（參閱附件 {v} 小節）"),
    ],
    "order": [
        ("zh-Hans", "chat", "麻烦查下单号{v}"),
        ("zh-Hans", "notice", "交易单号：{v}"),
        ("en", "form", "Booking reference {v}"),
        ("yue", "chat", "張單編號係{v}"),
    ],
    "id_bad_check": [("zh-Hans", "chat", "身份证{v}"), ("zh-Hant", "form", "證件號碼 {v}")],
    "id_bad_date": [("zh-Hans", "form", "证件号：{v}")],
    "card_bad_luhn": [("zh-Hans", "chat", "转到{v}"), ("en", "form", "Account {v}")],
    "uscc_bad": [("zh-Hans", "form", "税号 {v}")],
    "hkid_bad": [("en", "form", "HKID {v}")],
    "isbn": [("zh-Hans", "notice", "ISBN：{v}"), ("zh-Hant", "notice", "國際標準書號 {v}")],
    "timestamp": [("en", "log", "[{v}] GET /api/v1/items 200"), ("zh-Hans", "chat", "截图时间{v}")],
    "amount": [("zh-Hans", "news", "合同金额{v}"), ("zh-Hant", "news", "成交金額 {v}"), ("en", "news", "a total of {v}")],
    "coordinate": [("zh-Hans", "chat", "定位{v}"), ("en", "notice", "GPS: {v}")],
    "phone_bad": [("yue", "contact", "電話 {v}"), ("zh-Hans", "chat", "打{v}")],
    "tracking": [("zh-Hans", "notice", "运单号：{v}"), ("en", "notice", "Waybill {v}")],
    "stock": [("zh-Hant", "news", "騰訊（{v}）"), ("en", "news", "shares of {v} rose")],
    "invoice": [("zh-Hans", "form", "发票代码 {v}"), ("zh-Hans", "form", "票据号码：{v}")],
}
