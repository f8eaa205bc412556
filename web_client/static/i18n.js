// Every user-facing string of the web client, in zh-CN (default) and en, and the functions
// that pick, fill in and re-apply them when the language changes.
//
// Parameters are written {name}; a parameter may be a function, called at translation time
// (used for dates, which are formatted in the current language).

export const LANGUAGES = [['zh-CN', '中文'], ['en', 'EN']];
const DEFAULT_LANG = 'zh-CN';
const STORAGE_KEY = 'hearing.lang';

export const CATALOGUE = {
  'zh-CN': {
    'app.name': '在线庭审',
    'lang.label': '语言',

    'hearing.caseNumber': '案号',
    'hearing.scheduled': '开庭时间',
    'hearing.when': '{start} 至 {end}',

    'hstate.scheduled': '未开放',
    'hstate.open': '等候开庭',
    'hstate.in_session': '庭审中',
    'hstate.paused': '休庭',
    'hstate.suspended': '暂停（技术问题）',
    'hstate.adjourned': '延期审理',
    'hstate.closed': '已闭庭',
    'hstate.long.scheduled': '庭审尚未开放。',
    'hstate.long.open': '等候室已开放，庭审尚未开始。',
    'hstate.long.in_session': '庭审正在进行。',
    'hstate.long.paused': '法官宣布休庭。',
    'hstate.long.suspended': '因技术问题暂停，书记员正在处理。',
    'hstate.long.adjourned': '本次庭审已延期，另定日期继续审理。',
    'hstate.long.closed': '庭审已结束。',

    'step.progress': '入庭步骤',
    'step.selftest': '设备检测',
    'step.identity': '身份核验',
    'step.rules': '庭审须知',
    'step.waiting': '等候入庭',

    'selftest.title': '设备检测',
    'selftest.lead': '开庭前请检查摄像头、麦克风、扬声器和网络，确保法庭能看到、听到您。',
    'selftest.camera': '摄像头',
    'selftest.microphone': '麦克风',
    'selftest.speaker': '扬声器',
    'selftest.network': '网络',
    'selftest.starting': '正在打开设备…',
    'selftest.cameraOk': '摄像头正常。请确认画面中能清楚看到您的脸。',
    'selftest.noCamera': '未找到摄像头，只能以语音方式参加。',
    'selftest.micSpeak': '请说几句话，音量条应随声音跳动。',
    'selftest.micOk': '麦克风正常。',
    'selftest.micLevel': '麦克风音量',
    'selftest.blocked': '您拒绝了摄像头或麦克风权限。请在浏览器设置中允许本网站使用，然后点“重试”。',
    'selftest.noDevice': '没有找到摄像头或麦克风，请连接后重试。',
    'selftest.busy': '摄像头或麦克风正被其他应用占用，请关闭该应用后重试。',
    'selftest.mediaError': '无法打开摄像头或麦克风，请重试。',
    'selftest.retry': '重试',
    'selftest.playTone': '播放测试音',
    'selftest.playAgain': '再播放一次',
    'selftest.playing': '正在播放…',
    'selftest.speakerPrompt': '点击播放测试音，确认能听到声音。',
    'selftest.didYouHear': '您听到测试音了吗？',
    'selftest.heard': '听到了',
    'selftest.notHeard': '没听到',
    'selftest.speakerOk': '扬声器正常。',
    'selftest.speakerFail': '请调高音量或戴上耳机后再试一次。',
    'selftest.networkChecking': '正在检测网络…',
    'selftest.network.good': '网络良好（丢包 {loss}%，延迟 {rtt} 毫秒）。',
    'selftest.network.poor': '网络一般（丢包 {loss}%，延迟 {rtt} 毫秒），画面可能卡顿。建议靠近路由器或换用更稳定的网络。',
    'selftest.network.bad': '网络较差（丢包 {loss}%），可能无法正常参加庭审。请更换网络后重新打开链接。',
    'selftest.completeAll': '完成以上各项检测后才能继续。',
    'selftest.continue': '下一步',

    'rules.title': '庭审须知',
    'rules.lead': '在线庭审与在法庭内开庭具有同等效力，请阅读并遵守以下规定。',
    'rules.formal': '在线庭审是正式的法庭审理活动，请遵守法庭纪律，着装得体，不得吸烟、进食或从事其他与庭审无关的活动。',
    'rules.place': '请在安静、光线充足、不受干扰的独立空间参加庭审，未经法庭许可，他人不得在场。',
    'rules.noRecording': '未经法庭许可，不得录音、录像、拍照、截屏，不得直播或传播庭审过程。',
    'rules.conduct': '请保持摄像头开启、面部清晰可见；经法官许可后方可发言，不发言时请关闭麦克风。',
    'rules.record': '法庭对庭审全程录音录像，作为庭审笔录的组成部分。',
    'rules.declaration': '我已阅读并理解上述规定，承诺不私自录音、录像、拍照或传播庭审内容。',
    'rules.continue': '进入等候室',

    'waiting.title': '等候室',
    'waiting.connecting': '正在连接法庭…',
    'waiting.admitSoon': '请稍候，法官将会让您进入庭审。',
    'waiting.notices': '法庭通知',
    'waiting.yourCamera': '您的画面',
    'waiting.privacy': '法官让您入庭之前，其他人看不到也听不到您。',

    'notice.welcome': '您已进入等候室。请保持本页面打开，不要离开。',
    'notice.admitted': '法官已让您进入庭审。',
    'notice.returned': '法官请您回到等候室。',
    'notice.mutedByJudge': '法官已将您静音，需法官允许后才能发言。',
    'notice.hearing.open': '等候室已开放。',
    'notice.hearing.in_session': '庭审已开始。',
    'notice.hearing.paused': '法官宣布休庭。',
    'notice.hearing.suspended': '庭审因技术问题暂停。',
    'notice.hearing.adjourned': '本次庭审已延期。',
    'notice.hearing.closed': '庭审已结束。',
    'notice.hearing.scheduled': '庭审尚未开放。',

    'room.hearingRoom': '庭审室',
    'room.consultation': '会见室',
    'room.controls': '庭审操作',
    'room.mute': '静音',
    'room.unmute': '取消静音',
    'room.locked': '已被静音',
    'room.lockedByJudge': '法官已锁定您的麦克风',
    'room.cameraOff': '关闭摄像头',
    'room.cameraOn': '打开摄像头',
    'room.raiseHand': '举手',
    'room.lowerHand': '放下手',
    'room.leave': '离开',
    'room.leaveConfirm': '确认离开？',
    'room.enableSound': '点击开启声音',
    'room.nobodyYet': '正在接通其他参与人的画面…',

    'tile.you': '我',
    'tile.handRaised': '已举手',
    'tile.muted': '已静音',

    'quality.good': '连接良好',
    'quality.poor': '连接一般',
    'quality.bad': '连接较差',
    'quality.unknown': '连接状态未知',

    'role.judge': '审判员',
    'role.clerk': '书记员',
    'role.mediator': '调解员',
    'role.party': '当事人',
    'role.counsel': '代理人',
    'role.witness': '证人',
    'role.expert': '鉴定人',
    'role.interpreter': '翻译人员',
    'role.observer': '旁听人员',
    'role.courtroom_display': '法庭显示屏',
    'role.unknown': '参与人',
    'side.plaintiff': '原告',
    'side.defendant': '被告',
    'side.applicant': '申请人',
    'side.respondent': '被申请人',
    'side.third_party': '第三人',

    'state.not_joined': '未加入',
    'state.joining': '正在加入',
    'state.waiting': '等候中',
    'state.in_hearing': '在庭',
    'state.in_consultation': '会见中',
    'state.disconnected': '连接中断',
    'state.left': '已离开',
    'state.unable_to_join': '无法加入',
    'state.handRaised': '举手',
    'state.muted': '已静音',
    'state.muteLocked': '已静音并锁定',

    'console.as.judge': '审判员控制台',
    'console.as.clerk': '书记员控制台',
    'console.as.mediator': '调解员控制台',
    'console.hearing': '庭审',
    'console.elapsed': '庭审用时',
    'console.layout': '法庭显示屏布局',
    'console.clerkNote': '开庭、休庭、准许入庭、静音等司法操作由审判员进行。',
    'console.participants': '参与人',
    'console.you': '（我）',
    'console.counts': '在庭 {inHearing} 人 · 等候 {waiting} 人 · 举手 {hands} 人',
    'console.noDevices': '未能打开摄像头或麦克风：您可以看到和听到其他人，但他们看不到您。',
    'rec.recording': '● 正在录制',
    'rec.paused': '录制已暂停',
    'rec.stopping': '录制已停止，正在保存并签名…',
    'rec.not_recording': '未录制',
    'rec.alertFailed': '录制故障：{message}',
    'rec.alertRecovered': '录制已恢复：{message}',
    'load.level1': '服务器繁忙：部分视频已暂停（当事人仅看到审判员和发言人），声音、录音和连接不受影响。（{reason}）',
    'load.level2': '服务器繁忙：当事人仅看到审判员画面，法庭显示屏帧率减半；声音、录音和连接不受影响。（{reason}）',
    'load.level3': '服务器严重繁忙：当事人暂时看不到视频，法庭显示屏低帧率；声音、录音和连接不受影响。（{reason}）',
    'load.recovered': '服务器负载已恢复，视频正在恢复。',
    'console.views': '控制台视图',
    'console.tabHearing': '庭审',
    'console.tabTranscript': '笔录',

    'layout.judge_focus': '突出审判员',
    'layout.grid': '平铺',
    'layout.speaker_follow': '跟随发言人',

    'action.start': '开庭',
    'action.pause': '休庭',
    'action.resume': '继续开庭',
    'action.suspend': '技术暂停',
    'action.close': '闭庭',
    'action.closeConfirm': '再次点击确认闭庭',
    'action.admit': '准许入庭',
    'action.callIn': '传唤入庭',
    'action.toWaiting': '请回等候室',
    'action.dismiss': '退庭',
    'action.mute': '静音',
    'action.muteLock': '静音并锁定',
    'action.unmute': '取消静音',
    'action.lock': '锁定静音',
    'action.unlock': '解除锁定',
    'action.remove': '移出',
    'action.removeConfirm': '确认移出？',

    'display.idle': '等待参与人入庭',
    'captions.show': '显示字幕',
    'captions.hide': '隐藏字幕',
    'display.tapForSound': '轻触屏幕开启声音',
    'display.endedTitle': '显示已停止',

    'transcript.title': '庭审笔录',
    'transcript.loading': '正在载入笔录…',
    'transcript.loadFailed': '暂时无法载入笔录，页面将自动重试。',
    'transcript.empty': '笔录中还没有内容。庭审开始后，识别出的发言会显示在这里。',
    'transcript.summary': '共 {segments} 段 · 已更正 {corrected} 段',
    'transcript.summaryLost': '共 {segments} 段 · 已更正 {corrected} 段 · 未能识别或音频丢失 {lost} 处',
    'transcript.updated': '更新于 {time}',
    'transcript.pending': '语音识别仍在进行中，后续发言可能还会加入笔录。',
    'transcript.pendingBadge': '识别中',
    'transcript.finalBadge': '已定稿',
    'transcript.finalBy': '笔录已由{name}于 {time} 定稿，不能再更正。',
    'transcript.damagedBadge': '校验未通过',
    'transcript.damaged': '笔录校验未通过：哈希链可能被改动。请联系技术人员，暂勿定稿。',
    'transcript.clock': '庭审时间（自开庭起）',
    'transcript.tagCorrected': '已更正',
    'transcript.tagFailed': '未能识别',
    'transcript.tagGap': '音频丢失',
    'transcript.tagLate': '识别延迟',
    'transcript.failedText': '有发言，但未能识别出文字。',
    'transcript.gapText': '音频丢失，此段未能转写（{detail}）。',
    'transcript.gapTextPlain': '音频丢失，此段未能转写。',
    'transcript.original': '原文：',
    'transcript.correctedBy': '{name} 更正于 {time}',
    'transcript.correctedTimes': '（共更正 {n} 次）',
    'transcript.reason': '更正理由：{reason}',
    'transcript.edit': '更正',
    'transcript.editText': '更正后的文字',
    'transcript.editReason': '更正理由（选填）',
    'transcript.editReasonHint': '例如：已核对庭审录音',
    'transcript.save': '保存更正',
    'transcript.saving': '正在保存…',
    'transcript.cancel': '取消',
    'transcript.saved': '更正已保存，原文仍保留在笔录中。',
    'transcript.downloads': '下载',
    'transcript.downloadAs': '下载 {format} 格式的笔录',
    'transcript.finalise': '笔录定稿',
    'transcript.finaliseConfirm': '再次点击确认定稿（不可撤销）',
    'transcript.finaliseAfterClose': '闭庭或宣布延期审理后才能定稿。',
    'transcript.finaliseReady': '定稿后，任何人都不能再更正笔录。',
    'transcript.finalised': '笔录已定稿。',
    'transcript.error.transcript_final': '笔录已定稿，不能再更正。',
    'transcript.error.transcript_pending': '仍在识别庭审语音，请稍后再试。',
    'transcript.error.hearing_not_closed': '闭庭或宣布延期审理后才能定稿。',
    'transcript.error.transcript_damaged': '笔录校验未通过，不能定稿。请联系技术人员。',
    'transcript.error.not_found': '找不到这一段笔录，请刷新页面。',
    'transcript.error.invalid_value': '更正内容不符合要求：不能为空，不能含控制字符，最多 4000 字。',
    'transcript.error.invalid_field': '更正内容不符合要求：不能为空，不能含控制字符，最多 4000 字。',
    'transcript.error.emptyText': '更正后的文字不能为空。',
    'transcript.error.other': '操作没有成功，请重试。',

    'record.title.closed': '庭审已结束',
    'record.title.adjourned': '庭审已延期',
    'record.lead.closed': '本次庭审已结束，不能再进入。庭审笔录可在下方查阅和下载。',
    'record.lead.adjourned': '本次庭审已延期，将另定日期继续审理，本次不能再进入。本次的庭审笔录可在下方查阅和下载。',
    'record.started': '开庭',
    'record.ended': '结束',

    'conn.reconnecting': '网络连接中断，正在重新连接…',
    'conn.reconnectingAttempt': '网络连接中断，正在重新连接（第 {attempt} 次）…',
    'conn.restored': '已重新连接。',
    'conn.notOpen': '庭审尚未开放，页面将自动重试。',

    'ended.leftTitle': '您已离开庭审',
    'ended.leftBody': '如需返回，请点击下方按钮重新进入。',
    'ended.consoleLeft': '您已离开。其他参与人仍在原处。',
    'ended.rejoin': '重新进入',
    'ended.removedTitle': '您已被移出庭审',
    'ended.removedBody': '法官已将您移出本次庭审，此链接已失效。如有疑问，请联系法院。',
    'ended.closedTitle': '庭审已结束',
    'ended.closedBody': '本次庭审已结束，感谢您的参与。',

    'error.title': '无法进入庭审',
    'error.retry': '重试',
    'error.noToken': '链接不完整。请使用法院发送给您的完整链接。',
    'error.network': '无法连接到法院服务器，请检查网络后重试。',
    'error.internal': '发生错误，请刷新页面重试。',
    'error.error': '发生错误，请重试。',
    'error.unauthorized': '链接无效，请使用法院发送给您的链接。',
    'error.invalid_token': '链接无效，请使用法院发送给您的链接。',
    'error.token_expired': '链接已过期，请联系法院重新发送。',
    'error.token_not_yet_valid': '链接尚未生效，请在开庭前再打开。',
    'error.token_revoked': '链接已被撤销，请联系法院。',
    'error.wrong_hearing': '此链接不属于本次庭审。',
    'error.removed': '您已被移出本次庭审。',
    'error.replaced': '您已在其他窗口或设备上进入本次庭审，此窗口已断开。',
    'error.hearing_closed': '本次庭审已结束。',
    'error.hearing_not_open': '庭审尚未开放。',
    'error.protocol_mismatch': '页面版本过旧，请刷新页面。',
    'error.forbidden': '您无权进行此操作。',
    'error.invalid_transition': '当前状态下不能进行此操作。',
    'error.conflict': '状态已变化，操作未执行。',
    'error.not_found': '找不到该参与人。',
    'error.mute_locked': '法官已锁定您的麦克风，暂时不能取消静音。',
    'error.invalid_value': '输入有误。',
    'error.not_joined': '尚未加入庭审。',
    'error.not_connected': '与法院的连接已中断。',
    'error.timeout': '法院服务器没有响应，请重试。',
    'error.internal_error': '服务器出错，请重试。',
    'error.invalid_sdp': '音视频协商失败。',
    'error.unsupported_codec': '您的浏览器不支持所需的视频格式。',
    'error.negotiation_failed': '音视频连接失败，正在重试。',
  },

  en: {
    'app.name': 'Online hearing',
    'lang.label': 'Language',

    'hearing.caseNumber': 'Case number',
    'hearing.scheduled': 'Scheduled',
    'hearing.when': '{start} to {end}',

    'hstate.scheduled': 'Not open yet',
    'hstate.open': 'Waiting to start',
    'hstate.in_session': 'In session',
    'hstate.paused': 'Paused',
    'hstate.suspended': 'Suspended (technical problem)',
    'hstate.adjourned': 'Adjourned',
    'hstate.closed': 'Closed',
    'hstate.long.scheduled': 'The hearing is not open yet.',
    'hstate.long.open': 'The waiting room is open; the hearing has not started.',
    'hstate.long.in_session': 'The hearing is in session.',
    'hstate.long.paused': 'The judge has paused the hearing.',
    'hstate.long.suspended': 'Suspended for a technical problem; the clerk is on it.',
    'hstate.long.adjourned': 'The hearing is adjourned to another day.',
    'hstate.long.closed': 'The hearing has ended.',

    'step.progress': 'Steps to join',
    'step.selftest': 'Device check',
    'step.identity': 'Identity check',
    'step.rules': 'Hearing rules',
    'step.waiting': 'Waiting room',

    'selftest.title': 'Device check',
    'selftest.lead': 'Before the hearing, check your camera, microphone, speaker and network so the court can see and hear you.',
    'selftest.camera': 'Camera',
    'selftest.microphone': 'Microphone',
    'selftest.speaker': 'Speaker',
    'selftest.network': 'Network',
    'selftest.starting': 'Starting your devices…',
    'selftest.cameraOk': 'Camera working. Make sure your face is clearly visible.',
    'selftest.noCamera': 'No camera found: you can take part by audio only.',
    'selftest.micSpeak': 'Say a few words: the bar should move with your voice.',
    'selftest.micOk': 'Microphone working.',
    'selftest.micLevel': 'Microphone level',
    'selftest.blocked': 'Camera or microphone access was blocked. Allow it for this site in your browser settings, then press Try again.',
    'selftest.noDevice': 'No camera or microphone found. Connect one and try again.',
    'selftest.busy': 'Another app is using your camera or microphone. Close it and try again.',
    'selftest.mediaError': 'Your camera or microphone could not be started. Try again.',
    'selftest.retry': 'Try again',
    'selftest.playTone': 'Play test sound',
    'selftest.playAgain': 'Play again',
    'selftest.playing': 'Playing…',
    'selftest.speakerPrompt': 'Play the test sound to check that you can hear.',
    'selftest.didYouHear': 'Did you hear the test sound?',
    'selftest.heard': 'I heard it',
    'selftest.notHeard': 'I did not hear it',
    'selftest.speakerOk': 'Speaker working.',
    'selftest.speakerFail': 'Turn the volume up or plug in headphones, then play it again.',
    'selftest.networkChecking': 'Checking your network…',
    'selftest.network.good': 'Network good ({loss}% loss, {rtt} ms).',
    'selftest.network.poor': 'Network fair ({loss}% loss, {rtt} ms): video may stutter. Move closer to your router or use a steadier connection.',
    'selftest.network.bad': 'Network poor ({loss}% loss): you may not be able to take part. Change network and open the link again.',
    'selftest.completeAll': 'Complete every check to continue.',
    'selftest.continue': 'Continue',

    'rules.title': 'Hearing rules',
    'rules.lead': 'An online hearing has the same force as a hearing in the courtroom. Please read and follow these rules.',
    'rules.formal': 'This is a formal court hearing: the discipline of the courtroom applies. Dress appropriately; do not smoke, eat or do anything unrelated to the hearing.',
    'rules.place': 'Join from a quiet, well-lit, private place. Nobody else may be with you unless the court allows it.',
    'rules.noRecording': 'Do not record, film, photograph or screenshot the hearing, and do not stream or share it, unless the court allows it.',
    'rules.conduct': 'Keep your camera on and your face visible. Speak only when the judge allows; keep your microphone muted otherwise.',
    'rules.record': 'The court records the whole hearing as part of the official record.',
    'rules.declaration': 'I have read and understood these rules, and I will not record, film, photograph or share the hearing.',
    'rules.continue': 'Go to the waiting room',

    'waiting.title': 'Waiting room',
    'waiting.connecting': 'Connecting to the court…',
    'waiting.admitSoon': 'Please wait: the judge will admit you to the hearing.',
    'waiting.notices': 'Notices from the court',
    'waiting.yourCamera': 'Your camera',
    'waiting.privacy': 'Nobody can see or hear you until the judge admits you.',

    'notice.welcome': 'You are in the waiting room. Keep this page open.',
    'notice.admitted': 'The judge has admitted you to the hearing.',
    'notice.returned': 'The judge has returned you to the waiting room.',
    'notice.mutedByJudge': 'The judge has muted you; you can speak again when the judge allows.',
    'notice.hearing.open': 'The waiting room is open.',
    'notice.hearing.in_session': 'The hearing has started.',
    'notice.hearing.paused': 'The judge has paused the hearing.',
    'notice.hearing.suspended': 'The hearing is suspended for a technical problem.',
    'notice.hearing.adjourned': 'The hearing is adjourned.',
    'notice.hearing.closed': 'The hearing has ended.',
    'notice.hearing.scheduled': 'The hearing is not open yet.',

    'room.hearingRoom': 'Hearing room',
    'room.consultation': 'Consultation room',
    'room.controls': 'Hearing controls',
    'room.mute': 'Mute',
    'room.unmute': 'Unmute',
    'room.locked': 'Muted',
    'room.lockedByJudge': 'The judge has locked your microphone',
    'room.cameraOff': 'Stop camera',
    'room.cameraOn': 'Start camera',
    'room.raiseHand': 'Raise hand',
    'room.lowerHand': 'Lower hand',
    'room.leave': 'Leave',
    'room.leaveConfirm': 'Leave now?',
    'room.enableSound': 'Tap to turn on sound',
    'room.nobodyYet': 'Connecting to the other participants…',

    'tile.you': 'You',
    'tile.handRaised': 'Hand raised',
    'tile.muted': 'Muted',

    'quality.good': 'Good connection',
    'quality.poor': 'Fair connection',
    'quality.bad': 'Poor connection',
    'quality.unknown': 'Connection unknown',

    'role.judge': 'Judge',
    'role.clerk': 'Clerk',
    'role.mediator': 'Mediator',
    'role.party': 'Party',
    'role.counsel': 'Counsel',
    'role.witness': 'Witness',
    'role.expert': 'Expert',
    'role.interpreter': 'Interpreter',
    'role.observer': 'Observer',
    'role.courtroom_display': 'Courtroom display',
    'role.unknown': 'Participant',
    'side.plaintiff': 'Plaintiff',
    'side.defendant': 'Defendant',
    'side.applicant': 'Applicant',
    'side.respondent': 'Respondent',
    'side.third_party': 'Third party',

    'state.not_joined': 'Not joined',
    'state.joining': 'Joining',
    'state.waiting': 'Waiting',
    'state.in_hearing': 'In hearing',
    'state.in_consultation': 'In consultation',
    'state.disconnected': 'Disconnected',
    'state.left': 'Left',
    'state.unable_to_join': 'Unable to join',
    'state.handRaised': 'Hand raised',
    'state.muted': 'Muted',
    'state.muteLocked': 'Muted and locked',

    'console.as.judge': 'Judge console',
    'console.as.clerk': 'Clerk console',
    'console.as.mediator': 'Mediator console',
    'console.hearing': 'Hearing',
    'console.elapsed': 'Hearing time',
    'console.layout': 'Courtroom display layout',
    'console.clerkNote': 'Judicial actions (start, pause, admit, mute) are the judge’s.',
    'console.participants': 'Participants',
    'console.you': '(you)',
    'console.counts': '{inHearing} in hearing · {waiting} waiting · {hands} hands raised',
    'console.noDevices': 'Camera or microphone unavailable: you can see and hear the others, but they cannot see you.',
    'rec.recording': '● Recording',
    'rec.paused': 'Recording paused',
    'rec.stopping': 'Recording stopped; saving and signing…',
    'rec.not_recording': 'Not recording',
    'rec.alertFailed': 'Recording problem: {message}',
    'rec.alertRecovered': 'Recording recovered: {message}',
    'load.level1': 'Server busy: some video paused (parties see the judge and the speaker); sound, recording and connections are unaffected. ({reason})',
    'load.level2': 'Server busy: parties see only the judge; the courtroom display at half rate; sound, recording and connections are unaffected. ({reason})',
    'load.level3': 'Server very busy: parties see no video for now; the courtroom display at a low rate; sound, recording and connections are unaffected. ({reason})',
    'load.recovered': 'Server load is back to normal; video is returning.',
    'console.views': 'Console views',
    'console.tabHearing': 'Hearing',
    'console.tabTranscript': 'Transcript',

    'layout.judge_focus': 'Judge focus',
    'layout.grid': 'Grid',
    'layout.speaker_follow': 'Follow speaker',

    'action.start': 'Start hearing',
    'action.pause': 'Pause',
    'action.resume': 'Resume',
    'action.suspend': 'Technical suspension',
    'action.close': 'Close hearing',
    'action.closeConfirm': 'Press again to close',
    'action.admit': 'Admit',
    'action.callIn': 'Call in',
    'action.toWaiting': 'To waiting room',
    'action.dismiss': 'Dismiss',
    'action.mute': 'Mute',
    'action.muteLock': 'Mute and lock',
    'action.unmute': 'Unmute',
    'action.lock': 'Lock mute',
    'action.unlock': 'Release lock',
    'action.remove': 'Remove',
    'action.removeConfirm': 'Remove now?',

    'display.idle': 'Waiting for participants',
    'captions.show': 'Show captions',
    'captions.hide': 'Hide captions',
    'display.tapForSound': 'Touch the screen to turn on sound',
    'display.endedTitle': 'Display stopped',

    'transcript.title': 'Transcript',
    'transcript.loading': 'Loading the transcript…',
    'transcript.loadFailed': 'The transcript could not be loaded. This page will keep trying.',
    'transcript.empty': 'Nothing in the transcript yet. Recognised speech appears here once the hearing is under way.',
    'transcript.summary': '{segments} segments · {corrected} corrected',
    'transcript.summaryLost': '{segments} segments · {corrected} corrected · {lost} not recognised or audio lost',
    'transcript.updated': 'Updated {time}',
    'transcript.pending': 'Recognition still in progress: more speech may still be added.',
    'transcript.pendingBadge': 'Recognising',
    'transcript.finalBadge': 'Final',
    'transcript.finalBy': 'Marked final by {name} on {time}. It can no longer be corrected.',
    'transcript.damagedBadge': 'Not verified',
    'transcript.damaged': 'The transcript failed verification: its hash chain may have been altered. Contact technical support and do not mark it final.',
    'transcript.clock': 'Hearing time (since the start)',
    'transcript.tagCorrected': 'Corrected',
    'transcript.tagFailed': 'Not recognised',
    'transcript.tagGap': 'Audio lost',
    'transcript.tagLate': 'Late',
    'transcript.failedText': 'Inaudible: speech was not recognised.',
    'transcript.gapText': 'Audio lost, not transcribed ({detail}).',
    'transcript.gapTextPlain': 'Audio lost, not transcribed.',
    'transcript.original': 'Original: ',
    'transcript.correctedBy': 'Corrected by {name} on {time}',
    'transcript.correctedTimes': ' ({n} corrections)',
    'transcript.reason': 'Reason: {reason}',
    'transcript.edit': 'Correct',
    'transcript.editText': 'Corrected text',
    'transcript.editReason': 'Reason (optional)',
    'transcript.editReasonHint': 'e.g. checked against the recording',
    'transcript.save': 'Save correction',
    'transcript.saving': 'Saving…',
    'transcript.cancel': 'Cancel',
    'transcript.saved': 'Correction saved; the original stays in the record.',
    'transcript.downloads': 'Download',
    'transcript.downloadAs': 'Download the transcript as {format}',
    'transcript.finalise': 'Mark transcript final',
    'transcript.finaliseConfirm': 'Press again to mark final (cannot be undone)',
    'transcript.finaliseAfterClose': 'The transcript can be marked final once the hearing is closed or adjourned.',
    'transcript.finaliseReady': 'Once final, nobody can correct the transcript.',
    'transcript.finalised': 'The transcript is now final.',
    'transcript.error.transcript_final': 'The transcript is final and can no longer be corrected.',
    'transcript.error.transcript_pending': 'Still recognising speech from the hearing: try again in a moment.',
    'transcript.error.hearing_not_closed': 'The transcript can be marked final once the hearing is closed or adjourned.',
    'transcript.error.transcript_damaged': 'The transcript failed verification and cannot be marked final. Contact technical support.',
    'transcript.error.not_found': 'That transcript segment was not found. Reload the page.',
    'transcript.error.invalid_value': 'The correction is not valid: it must not be empty, must not hold control characters, and may be at most 4000 characters.',
    'transcript.error.invalid_field': 'The correction is not valid: it must not be empty, must not hold control characters, and may be at most 4000 characters.',
    'transcript.error.emptyText': 'The corrected text must not be empty.',
    'transcript.error.other': 'That did not work. Try again.',

    'record.title.closed': 'The hearing has ended',
    'record.title.adjourned': 'The hearing is adjourned',
    'record.lead.closed': 'This hearing is over and can no longer be joined. Its transcript is below to read and download.',
    'record.lead.adjourned': 'This hearing is adjourned to another day and this sitting can no longer be joined. Its transcript is below to read and download.',
    'record.started': 'Started',
    'record.ended': 'Ended',

    'conn.reconnecting': 'Connection lost. Reconnecting…',
    'conn.reconnectingAttempt': 'Connection lost. Reconnecting (attempt {attempt})…',
    'conn.restored': 'Reconnected.',
    'conn.notOpen': 'The hearing is not open yet. This page will keep trying.',

    'ended.leftTitle': 'You have left the hearing',
    'ended.leftBody': 'To go back in, press the button below.',
    'ended.consoleLeft': 'You have left. The other participants are where they were.',
    'ended.rejoin': 'Rejoin',
    'ended.removedTitle': 'You were removed from the hearing',
    'ended.removedBody': 'The judge removed you from this hearing and your link no longer works. Contact the court if you have questions.',
    'ended.closedTitle': 'The hearing has ended',
    'ended.closedBody': 'This hearing is over. Thank you for taking part.',

    'error.title': 'Cannot join the hearing',
    'error.retry': 'Try again',
    'error.noToken': 'This link is incomplete. Use the full link the court sent you.',
    'error.network': 'The court’s server cannot be reached. Check your network and try again.',
    'error.internal': 'Something went wrong. Reload the page to try again.',
    'error.error': 'Something went wrong. Try again.',
    'error.unauthorized': 'This link is not valid. Use the link the court sent you.',
    'error.invalid_token': 'This link is not valid. Use the link the court sent you.',
    'error.token_expired': 'This link has expired. Ask the court for a new one.',
    'error.token_not_yet_valid': 'This link is not valid yet. Open it closer to the hearing.',
    'error.token_revoked': 'This link was withdrawn. Contact the court.',
    'error.wrong_hearing': 'This link belongs to another hearing.',
    'error.removed': 'You were removed from this hearing.',
    'error.replaced': 'You joined this hearing from another window or device; this window was disconnected.',
    'error.hearing_closed': 'This hearing has ended.',
    'error.hearing_not_open': 'The hearing is not open yet.',
    'error.protocol_mismatch': 'This page is out of date. Reload it.',
    'error.forbidden': 'You are not allowed to do that.',
    'error.invalid_transition': 'That is not possible in the hearing’s current state.',
    'error.conflict': 'Things changed in the meantime; nothing was done.',
    'error.not_found': 'That participant was not found.',
    'error.mute_locked': 'The judge has locked your microphone: you cannot unmute yet.',
    'error.invalid_value': 'That value is not valid.',
    'error.not_joined': 'Not in the hearing yet.',
    'error.not_connected': 'The connection to the court was lost.',
    'error.timeout': 'The court’s server did not answer. Try again.',
    'error.internal_error': 'The server failed. Try again.',
    'error.invalid_sdp': 'Audio/video negotiation failed.',
    'error.unsupported_codec': 'Your browser does not support the video format needed.',
    'error.negotiation_failed': 'The audio/video connection failed; retrying.',
  },
};

/** Keys asked for but missing from the catalogue (checked by the browser tests). */
export const missingKeys = new Set();

// Elements whose text or attributes come from the catalogue, so a language switch can
// re-translate them in place (dom.js fills these).
export const tracked = { text: new WeakMap(), attrs: new WeakMap() };

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && CATALOGUE[saved]) return saved;
  } catch { /* storage unavailable: use the default */ }
  return DEFAULT_LANG;
}

let current = initialLang();
const listeners = new Set();

export function getLang() {
  return current;
}

export function t(key, params) {
  let s = CATALOGUE[current][key];
  if (s === undefined) {
    missingKeys.add(key);
    s = CATALOGUE.en[key] ?? key;
  }
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => {
      if (!(name in params)) return m;
      const v = params[name];
      return String(typeof v === 'function' ? v() : v);
    });
  }
  return s;
}

export function setLang(lang) {
  if (!CATALOGUE[lang] || lang === current) return;
  current = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* not persisted */ }
  document.documentElement.lang = lang;
  retranslate(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Re-apply the catalogue to every tracked element under root. */
export function retranslate(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const entry = tracked.text.get(el);
    if (entry) el.textContent = t(entry.key, entry.params);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    const map = tracked.attrs.get(el);
    if (map) for (const [attr, entry] of map) el.setAttribute(attr, t(entry.key, entry.params));
  }
}

// -- dates and times, in the current language ------------------------------------------------

export function fmtDateTime(iso, { timeOnly = false } = {}) {
  if (!iso) return '–';
  const d = new Date(iso);
  const opts = timeOnly
    ? { hour: '2-digit', minute: '2-digit' }
    : { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(current, opts).format(d);
}

export function fmtTime(date) {
  return new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit' }).format(date);
}

export function fmtClock(date) {
  return new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(date);
}

export function fmtDate(date) {
  return new Intl.DateTimeFormat(current, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'long' }).format(date);
}

export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}
